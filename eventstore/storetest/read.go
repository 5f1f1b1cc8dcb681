package storetest

import (
	"fmt"
	"testing"

	"github.com/commerce-engine/commerce/eventstore"
)

func testReadStreamDirections(t *testing.T, open Opener) {
	s := open(t)
	var in []eventstore.EventData
	for i := 1; i <= 10; i++ {
		in = append(in, NewEvent("test.counted", fmt.Sprintf(`{"n":%d}`, i)))
	}
	mustAppend(t, s, "dir-1", eventstore.NoStream, in...)
	mustAppend(t, s, "dir-2", eventstore.NoStream, NewEvent("test.counted", `{}`))
	versions := func(evs []eventstore.Event) []int64 {
		var v []int64
		for _, e := range evs {
			v = append(v, e.Version)
		}
		return v
	}
	cases := []struct {
		name string
		opts eventstore.ReadStreamOptions
		want []int64
	}{
		{"forwards from start", eventstore.ReadStreamOptions{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"forwards from 4, limit 3", eventstore.ReadStreamOptions{From: 4, Limit: 3}, []int64{4, 5, 6}},
		{"forwards past the end", eventstore.ReadStreamOptions{From: 11}, nil},
		{"backwards from end", eventstore.ReadStreamOptions{Direction: eventstore.Backwards, Limit: 4}, []int64{10, 9, 8, 7}},
		{"backwards from 3", eventstore.ReadStreamOptions{Direction: eventstore.Backwards, From: 3}, []int64{3, 2, 1}},
		{"backwards from past the end", eventstore.ReadStreamOptions{Direction: eventstore.Backwards, From: 50, Limit: 2}, []int64{10, 9}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := s.ReadStream(ctxT(t), "dir-1", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := versions(evs); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("versions %v, want %v", got, tc.want)
			}
			for _, e := range evs {
				if e.StreamID != "dir-1" {
					t.Fatalf("read an event of %s", e.StreamID)
				}
			}
		})
	}
}

func testReadAllFilters(t *testing.T, open Opener) {
	s := open(t)
	mustAppend(t, s, "order-1", eventstore.Any, NewEvent("order.placed", `{}`), NewEvent("order.shipped", `{}`))
	mustAppend(t, s, "cart-1", eventstore.Any, NewEvent("cart.item_added", `{}`))
	mustAppend(t, s, "order-2", eventstore.Any, NewEvent("order.placed", `{}`))
	mustAppend(t, s, "orderXbook", eventstore.Any, NewEvent("order.placed", `{}`))
	mustAppend(t, s, "a%b-1", eventstore.Any, NewEvent("test.odd", `{}`))
	mustAppend(t, s, "a_b-1", eventstore.Any, NewEvent("test.odd", `{}`))
	mustAppend(t, s, "axb-1", eventstore.Any, NewEvent("test.odd", `{}`))

	all := readAll(t, s)
	if len(all) != 8 {
		t.Fatalf("$all has %d events, want 8", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Position <= all[i-1].Position {
			t.Fatalf("$all positions not increasing at %d", i)
		}
	}
	streams := func(evs []eventstore.Event) string {
		var out []string
		for _, e := range evs {
			out = append(out, e.StreamID+"/"+e.Type)
		}
		return fmt.Sprint(out)
	}
	cases := []struct {
		name string
		opts eventstore.ReadAllOptions
		want string
	}{
		{"by type", eventstore.ReadAllOptions{Filter: eventstore.Filter{Types: []string{"order.placed"}}},
			"[order-1/order.placed order-2/order.placed orderXbook/order.placed]"},
		{"by two types", eventstore.ReadAllOptions{Filter: eventstore.Filter{Types: []string{"order.shipped", "cart.item_added"}}},
			"[order-1/order.shipped cart-1/cart.item_added]"},
		{"by stream prefix", eventstore.ReadAllOptions{Filter: eventstore.Filter{StreamPrefix: "order-"}},
			"[order-1/order.placed order-1/order.shipped order-2/order.placed]"},
		{"prefix and type", eventstore.ReadAllOptions{Filter: eventstore.Filter{StreamPrefix: "order-", Types: []string{"order.placed"}}},
			"[order-1/order.placed order-2/order.placed]"},
		{"percent in a prefix is literal", eventstore.ReadAllOptions{Filter: eventstore.Filter{StreamPrefix: "a%"}}, "[a%b-1/test.odd]"},
		{"underscore in a prefix is literal", eventstore.ReadAllOptions{Filter: eventstore.Filter{StreamPrefix: "a_"}}, "[a_b-1/test.odd]"},
		{"after a position", eventstore.ReadAllOptions{After: all[5].Position}, "[a_b-1/test.odd axb-1/test.odd]"},
		{"limit", eventstore.ReadAllOptions{Limit: 2}, "[order-1/order.placed order-1/order.shipped]"},
		{"after the head", eventstore.ReadAllOptions{After: all[7].Position}, "[]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := s.ReadAll(ctxT(t), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := streams(evs); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	if h := head(t, s); h != all[7].Position {
		t.Fatalf("head = %d, want %d", h, all[7].Position)
	}
}
