package bench_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/internal/testsvc"
	"github.com/commerce-engine/commerce/messaging/bench"
)

// BenchmarkRelayVsRaw reports the relay's publish rate next to raw
// amqp091-go with asynchronous confirms, measured in the same run:
//
//	MESSAGING_BENCH_N=50000 go test -run '^$' -bench RelayVsRaw -benchtime 1x ./messaging/bench/
func BenchmarkRelayVsRaw(b *testing.B) {
	url := testsvc.Require(b, testsvc.AMQPEnv)
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("MESSAGING_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		relay, raw, err := bench.Publish(context.Background(), url, testsvc.UniqueName("msgbench")+".", n, 300)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(relay, "relay-msg/s")
		b.ReportMetric(raw, "raw-msg/s")
		b.ReportMetric(relay/raw, "relay/raw")
	}
}

func TestPublishSmoke(t *testing.T) {
	url := testsvc.AMQP(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	relay, raw, err := bench.Publish(ctx, url, testsvc.UniqueName("msgbench")+".", 2000, 300)
	if err != nil {
		t.Fatal(err)
	}
	if relay <= 0 || raw <= 0 {
		t.Fatalf("rates %v, %v", relay, raw)
	}
	t.Logf("relay %.0f msg/s, raw %.0f msg/s (2,000 messages: too few to compare)", relay, raw)
}
