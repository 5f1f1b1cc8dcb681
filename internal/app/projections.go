package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/commerce-engine/commerce/commands"
	"github.com/commerce-engine/commerce/domain/order"
	"github.com/commerce-engine/commerce/eventstore"
	"github.com/commerce-engine/commerce/httpapi"
	"github.com/commerce-engine/commerce/projections"
)

// errInMemoryModels refuses a rebuild from the command line on the
// embedded default, whose read models live in the serving process.
func (m *Main) errInMemoryModels() error {
	return errors.New("the embedded default keeps its read models in the serving process's memory and rebuilds them at every start; " +
		"rebuild one while serving with POST /api/v1/admin/projections/{name}/rebuild, or set " + m.setting("ReadModelURL") + " to keep them in PostgreSQL")
}

// Projections runs `commerce projections status` (args "status") and
// `commerce projections rebuild NAME` (args "rebuild", NAME) beside or
// without a running server, reporting on stdout. A rebuild on the embedded
// default, or of a projection that does not exist, is refused with an
// error saying what to do instead.
func (m *Main) Projections(ctx context.Context, args []string, stdout io.Writer) error {
	store, err := m.openEventStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	rm, err := m.openReadModels(ctx, store, commands.NewCodec())
	if err != nil {
		return err
	}
	defer rm.close()
	switch args[0] {
	case "status":
		return printProjectionStatus(ctx, store, rm, stdout)
	default: // rebuild NAME
		if rm.inMemory {
			return m.errInMemoryModels()
		}
		name := args[1] //nolint:gosec // G602: run accepts rebuild with exactly one NAME
		var last time.Time
		var names []string
		for _, md := range rm.models {
			if names = append(names, md.projection.Name); md.projection.Name != name {
				continue
			}
			start := time.Now()
			err := md.rebuild(ctx, func(pos, head eventstore.Position) {
				if time.Since(last) >= time.Second {
					last = time.Now()
					fmt.Fprintf(stdout, "%s: replayed to %d of %d\n", name, pos, head)
				}
			})
			if err != nil {
				return fmt.Errorf("rebuild %s: %w", name, err)
			}
			fmt.Fprintf(stdout, "%s: rebuilt and swapped in, in %s\n", name, time.Since(start).Round(time.Millisecond))
			return nil
		}
		return fmt.Errorf("no projection is named %q: the projections are %s", name, strings.Join(names, ", "))
	}
}

// printProjectionStatus prints each projection's position, the head, the
// lag and where it lives.
func printProjectionStatus(ctx context.Context, store eventstore.Store, rm *readModels, stdout io.Writer) error {
	head, err := store.Head(ctx)
	if err != nil {
		return fmt.Errorf("read the head of the log: %w", err)
	}
	if rm.inMemory {
		fmt.Fprintf(stdout, "head %d. The embedded default keeps its read models in the serving process's memory, rebuilt from the log at every start: "+
			"ask the running server (GET /api/v1/admin/projections) for their positions.\n", head)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECTION\tPOSITION\tHEAD\tLAG\tSTATUS")
	for _, md := range rm.models {
		pos, err := md.position(ctx)
		status := "live"
		switch {
		case err != nil:
			status = "unreachable: " + err.Error()
		case pos < head:
			status = "behind"
		}
		if st, ok := rm.statuses[md.projection.Name]; ok && err == nil {
			status += " (" + st + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", md.projection.Name, pos, head, max(0, int64(head-pos)), status)
	}
	return tw.Flush()
}

// Timeline prints an order's timeline to stdout: every event of its
// checkout across streams, oldest first, as a table or (asJSON) as the
// admin API's JSON. It returns an error wrapping projections.ErrNoSuchOrder
// for an unknown order.
func (m *Main) Timeline(ctx context.Context, orderID string, asJSON bool, stdout io.Writer) error {
	id, err := uuid.Parse(orderID)
	if err != nil {
		return fmt.Errorf("%q is not an order id (a UUID)", orderID)
	}
	store, err := m.openEventStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	rm, err := m.openReadModels(ctx, store, commands.NewCodec())
	if err != nil {
		return err
	}
	defer rm.close()
	corr := rm.api.Correlations
	if rm.inMemory {
		// The index lives in the server's memory: build this process's own.
		slot := projections.NewSlot(projections.NewMemoryCorrelations)
		if err := slot.Rebuild(ctx, store, eventstore.Filter{}, 0, nil); err != nil {
			return fmt.Errorf("index the log's correlations: %w", err)
		}
		corr = projections.CorrelationSlot{Slot: slot}
	}
	evs, err := projections.Timeline(ctx, store, corr, order.StreamID(id.String()))
	if errors.Is(err, projections.ErrNoSuchOrder) {
		return fmt.Errorf("order %s: %w", id, err)
	}
	if err != nil {
		return err
	}
	if asJSON {
		out := httpapi.Timeline{OrderID: id.String(), Events: []httpapi.Event{}}
		for _, e := range evs {
			out.Events = append(out.Events, httpapi.NewEvent(e))
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POSITION\tRECORDED AT\tSTREAM\tVERSION\tTYPE")
	for _, e := range evs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", e.Position, e.RecordedAt.UTC().Format(time.RFC3339Nano), e.StreamID, e.Version, e.Type)
	}
	return tw.Flush()
}
