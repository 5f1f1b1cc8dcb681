package notify_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/commerce-engine/commerce/messaging"
	"github.com/commerce-engine/commerce/notify"
)

// TestTopicsMatchTypes checks that the consumer binds the topic of every
// event type it handles, and no topic that carries none of them: event
// types are namespaced by their stream's category.
func TestTopicsMatchTypes(t *testing.T) {
	t.Parallel()
	used := map[string]bool{}
	for _, typ := range notify.Types {
		category, _, _ := strings.Cut(typ, ".")
		topic := messaging.Topic(category + "-")
		used[topic] = true
		if !slices.Contains(notify.Topics, topic) {
			t.Errorf("type %s arrives on %s, which Topics %v does not bind", typ, topic, notify.Topics)
		}
	}
	for _, topic := range notify.Topics {
		if !used[topic] {
			t.Errorf("topic %s is bound but carries none of Types", topic)
		}
	}
}
