package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/eventstore/postgres"
	"github.com/commerce-engine/commerce/eventstore/storetest"
)

// BenchmarkAppend measures appends of 1 and 10 events per call by 1, 16 and
// 64 concurrent writers, each on its own streams; events/s is the figure.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 10} {
		for _, writers := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("events=%d/writers=%d", batch, writers), func(b *testing.B) {
				s := MustOpen(b, postgres.Config{MaxConns: int32(writers)})
				runAppends(b, s, writers, batch)
			})
		}
	}
}

func runAppends(b *testing.B, s eventstore.Store, writers, batch int) {
	payload := fmt.Sprintf(`{"sku":"SKU-1","quantity":1,"pad":"%0250d"}`, 0)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			versions := map[string]int64{}
			for i := 0; next.Add(1) <= int64(b.N); i++ {
				stream := fmt.Sprintf("bench-%d-%d", w, i%100)
				evs := make([]eventstore.EventData, batch)
				for j := range evs {
					evs[j] = storetest.NewEvent("bench.happened", payload)
				}
				res, err := s.Append(ctx, stream, eventstore.Exact(versions[stream]), evs...)
				if err != nil {
					b.Error(err)
					return
				}
				versions[stream] = res.NextExpectedVersion
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.ReportMetric(float64(b.N*batch)/el.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/el.Seconds(), "appends/s")
}
