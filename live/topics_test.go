package live_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/commerce-engine/commerce/live"
	"github.com/commerce-engine/commerce/messaging"
)

// TestTopicsMatchTypes checks that the consumer binds the topic of every
// event type it handles, and no topic that carries none of them: event
// types are namespaced by their stream's category.
func TestTopicsMatchTypes(t *testing.T) {
	t.Parallel()
	used := map[string]bool{}
	for _, typ := range live.Types {
		category, _, _ := strings.Cut(typ, ".")
		topic := messaging.Topic(category + "-")
		used[topic] = true
		if !slices.Contains(live.Topics, topic) {
			t.Errorf("type %s arrives on %s, which Topics %v does not bind", typ, topic, live.Topics)
		}
	}
	for _, topic := range live.Topics {
		if !used[topic] {
			t.Errorf("topic %s is bound but carries none of Types", topic)
		}
	}
}
