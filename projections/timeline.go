package projections

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/commerce-engine/commerce/eventstore"
)

// ErrNoSuchOrder means an order's stream has no events: there is no
// timeline to show.
var ErrNoSuchOrder = errors.New("no such order")

// Timeline gathers every event of an order's checkout, across streams,
// oldest first: the events sharing the correlation id of the order
// stream's first event (found through corr), and every event of the
// order's own stream (status changes made later by admins carry their own
// request's correlation). It returns ErrNoSuchOrder for an empty stream.
func Timeline(ctx context.Context, store eventstore.Store, corr CorrelationReader, orderStream string) ([]eventstore.Event, error) {
	own, err := store.ReadStream(ctx, orderStream, eventstore.ReadStreamOptions{Limit: eventstore.MaxReadLimit})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", orderStream, err)
	}
	if len(own) == 0 {
		return nil, ErrNoSuchOrder
	}
	byPos := map[eventstore.Position]eventstore.Event{}
	for _, e := range own {
		byPos[e.Position] = e
	}
	if id := CorrelationID(own[0]); id != "" && corr != nil {
		positions, err := corr.Correlated(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("correlated events of %s: %w", id, err)
		}
		for _, p := range positions {
			if _, ok := byPos[p]; ok {
				continue
			}
			evs, err := store.ReadAll(ctx, eventstore.ReadAllOptions{After: p - 1, Limit: 1})
			if err != nil {
				return nil, fmt.Errorf("read the event at %d: %w", p, err)
			}
			if len(evs) == 1 && evs[0].Position == p {
				byPos[p] = evs[0]
			}
		}
	}
	out := make([]eventstore.Event, 0, len(byPos))
	for _, e := range byPos {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Position < out[j].Position })
	return out, nil
}
