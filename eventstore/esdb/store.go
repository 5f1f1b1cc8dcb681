package esdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/kurrent-io/KurrentDB-Client-Go/kurrentdb"

	"github.com/commerce-engine/commerce/eventstore"
)

// Config says which server to use and how to share it.
type Config struct {
	// URL is the client's connection string: esdb://, kurrentdb:// (and the
	// client's other schemes), e.g. "kurrentdb://127.0.0.1:2113?tls=false".
	URL string
	// Namespace prefixes every stream name with "<Namespace>:", so that
	// several shops or test runs can share one server; reads of $all see only
	// their own streams. 1 to 64 letters, digits, '_' or '-' (so that no
	// namespace is a prefix of another's streams); empty for a server of its
	// own.
	Namespace string
	// Logger receives the client's own log lines (nil: slog.Default()).
	Logger *slog.Logger
}

// Store is the EventStoreDB / KurrentDB event store; it implements
// eventstore.Store.
type Store struct {
	client *kurrentdb.Client
	ns     string
	log    *slog.Logger
	closed atomic.Bool
	// readPage is how many $all events one server read fetches while
	// filtering here (the client's $all reads take no server-side filter).
	readPage uint64
}

var _ eventstore.Store = (*Store)(nil)

// Open parses cfg.URL and makes a client; the client connects lazily, so an
// unreachable server shows on the first call, not here.
func Open(cfg Config) (*Store, error) {
	if cfg.Namespace != "" && !ValidNamespace(cfg.Namespace) {
		return nil, fmt.Errorf("esdb: namespace %q: want 1 to 64 letters, digits, '_' or '-'", cfg.Namespace)
	}
	conf, err := kurrentdb.ParseConnectionString(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("esdb: connection string: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "esdb")
	conf.Logger = func(level kurrentdb.LogLevel, format string, args ...any) {
		l := slog.LevelDebug
		switch level {
		case kurrentdb.LogWarn:
			l = slog.LevelWarn
		case kurrentdb.LogError:
			l = slog.LevelError
		}
		for _, a := range args {
			// A subscription ended by its own context is a normal stop.
			if err, ok := a.(error); ok && (errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "context canceled")) {
				l = slog.LevelDebug
			}
		}
		log.Log(context.Background(), l, fmt.Sprintf(format, args...))
	}
	client, err := kurrentdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("esdb: client: %w", err)
	}
	ns := ""
	if cfg.Namespace != "" {
		ns = cfg.Namespace + ":"
	}
	return &Store{client: client, ns: ns, log: log, readPage: 1000}, nil
}

var namespacePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidNamespace reports whether ns can be a Config.Namespace, for
// configuration checks made before a store is opened.
func ValidNamespace(ns string) bool { return namespacePattern.MatchString(ns) }

// Client is the underlying client, for what the eventstore contract does not
// cover (stream subscriptions with the client's own types, admin calls).
func (s *Store) Client() *kurrentdb.Client { return s.client }

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if s.closed.Load() {
		return eventstore.AppendResult{}, eventstore.ErrClosed
	}
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("esdb: append to %s: %w", stream, err)
	}
	proposed := make([]kurrentdb.EventData, len(events))
	for i, e := range events {
		d, err := toEventData(e)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		proposed[i] = d
	}
	res, err := s.client.AppendToStream(ctx, s.ns+stream, kurrentdb.AppendToStreamOptions{StreamState: streamState(expected)}, proposed...)
	switch {
	case err == nil:
		return s.confirm(ctx, stream, events, res)
	case ctx.Err() != nil:
		return eventstore.AppendResult{}, fmt.Errorf("esdb: append to %s: %w", stream, ctx.Err())
	default:
		// A wrong expected version (also the server's answer to ids of
		// which only some match), or no answer at all (the connection
		// dropped): what the stream holds now tells which.
		return s.settle(ctx, stream, expected, events, err)
	}
}

// confirm checks a successful append against the stream. The server answers
// a fresh write and a retry it recognised (by ids alone, and with expected
// version any, in any order) alike: with the revision of the last event and,
// on current servers, its position. So the events at the revisions the
// answer names are read back: they must be the proposed ones, in order and
// with the same content.
//
// The two cannot be told apart, so NextExpectedVersion is always the
// version of the last of these events, never a later one: for a fresh
// write under concurrent appends, the stream's current version would let
// the caller append over events it has not seen; for a retry after the
// stream moved on, the caller's next append meets a wrong expected version
// and reloads.
func (s *Store) confirm(ctx context.Context, stream string, events []eventstore.EventData, res *kurrentdb.WriteResult) (eventstore.AppendResult, error) {
	// The events are written: a caller that gives up now must not turn
	// that into an error.
	ctx = context.WithoutCancel(ctx)
	n := uint64(len(events))
	last := res.NextExpectedVersion
	if last+1 < n {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", stream, eventstore.ErrIdempotencyConflict)
	}
	got, err := s.readStream(ctx, stream, kurrentdb.ReadStreamOptions{Direction: kurrentdb.Forwards, From: kurrentdb.Revision(last + 1 - n)}, n)
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("esdb: append to %s: accepted, reading it back: %w", stream, err)
	}
	if uint64(len(got)) < n {
		return eventstore.AppendResult{}, fmt.Errorf("esdb: append to %s: accepted at revision %d, but %d of its %d events read back", stream, last, len(got), n)
	}
	for i, e := range events {
		if !sameContent(got[i], e) {
			return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", stream, eventstore.ErrIdempotencyConflict)
		}
	}
	return eventstore.AppendResult{NextExpectedVersion: got[n-1].Version, FirstPosition: got[0].Position, LastPosition: got[n-1].Position}, nil
}

// settle decides an append the server refused or did not answer. The
// proposed events are looked for where a retry of them would be: right
// after the expected version, or anywhere in the stream for Any and
// StreamExists (the server then refuses only when some ids match). All of
// them there, in order and with the same content: it was a retry, and it
// reports where they are. Some: ErrIdempotencyConflict. None: cause stands,
// a wrong expected version as *WrongExpectedVersionError with the actual one.
func (s *Store) settle(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events []eventstore.EventData, cause error) (eventstore.AppendResult, error) {
	var window []eventstore.Event
	var err error
	if expected >= 0 {
		window, err = s.readStream(ctx, stream, kurrentdb.ReadStreamOptions{Direction: kurrentdb.Forwards, From: kurrentdb.Revision(uint64(expected))}, uint64(len(events)))
	} else {
		window, err = s.readWholeStream(ctx, stream)
	}
	if err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("esdb: append to %s: %w (and reading the stream to tell a retry failed: %w)", stream, cause, ctxErr(ctx, err))
	}
	at := make(map[[16]byte]int, len(window))
	for i, e := range window {
		at[e.ID] = i
	}
	found := 0
	for _, e := range events {
		if _, ok := at[e.ID]; ok {
			found++
		}
	}
	switch {
	case found == len(events):
		first := at[events[0].ID]
		for i, e := range events {
			if first+i >= len(window) || !sameContent(window[first+i], e) {
				return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", stream, eventstore.ErrIdempotencyConflict)
			}
		}
		// As in confirm: the version of the last of these events.
		return eventstore.AppendResult{
			NextExpectedVersion: window[first+len(events)-1].Version,
			FirstPosition:       window[first].Position,
			LastPosition:        window[first+len(events)-1].Position,
		}, nil
	case found > 0:
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", stream, eventstore.ErrIdempotencyConflict)
	case errorCode(cause) == kurrentdb.ErrorCodeWrongExpectedVersion:
		actual, err := s.lastVersion(ctx, stream)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("esdb: append to %s: wrong expected version, reading the actual one: %w", stream, ctxErr(ctx, err))
		}
		return eventstore.AppendResult{}, &eventstore.WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: actual}
	default:
		return eventstore.AppendResult{}, fmt.Errorf("esdb: append to %s: %w", stream, cause)
	}
}

// lastVersion is the version of the stream's last event (0 for none): with
// truncated or capped streams it is not the number of events.
func (s *Store) lastVersion(ctx context.Context, stream string) (int64, error) {
	evs, err := s.readStream(ctx, stream, kurrentdb.ReadStreamOptions{Direction: kurrentdb.Backwards, From: kurrentdb.End{}}, 1)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	return evs[0].Version, nil
}

// readWholeStream reads every event of stream in version order.
func (s *Store) readWholeStream(ctx context.Context, stream string) ([]eventstore.Event, error) {
	var out []eventstore.Event
	from := kurrentdb.StreamPosition(kurrentdb.Start{})
	for {
		page, err := s.readStream(ctx, stream, kurrentdb.ReadStreamOptions{Direction: kurrentdb.Forwards, From: from}, eventstore.MaxReadLimit)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < eventstore.MaxReadLimit {
			return out, nil
		}
		from = kurrentdb.Revision(uint64(page[len(page)-1].Version)) // next revision = version
	}
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, opts eventstore.ReadStreamOptions) ([]eventstore.Event, error) {
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	if err := eventstore.ValidateStreamID(stream); err != nil {
		return nil, err
	}
	limit, err := eventstore.ValidateLimit(opts.Limit)
	if err != nil {
		return nil, err
	}
	if opts.From < 0 {
		return nil, &eventstore.ValidationError{Field: "from", Reason: "is negative"}
	}
	ro := kurrentdb.ReadStreamOptions{}
	switch opts.Direction {
	case eventstore.Forwards:
		ro.Direction, ro.From = kurrentdb.Forwards, kurrentdb.Start{}
	case eventstore.Backwards:
		ro.Direction, ro.From = kurrentdb.Backwards, kurrentdb.End{}
	default:
		return nil, &eventstore.ValidationError{Field: "direction", Reason: fmt.Sprintf("%d is neither Forwards nor Backwards", opts.Direction)}
	}
	if opts.From > 0 {
		ro.From = kurrentdb.Revision(uint64(opts.From - 1))
	}
	evs, err := s.readStream(ctx, stream, ro, uint64(limit))
	if err != nil {
		return nil, fmt.Errorf("esdb: read %s: %w", stream, ctxErr(ctx, err))
	}
	return evs, nil
}

// readStream reads one page of a stream; a missing stream is empty.
func (s *Store) readStream(ctx context.Context, stream string, opts kurrentdb.ReadStreamOptions, count uint64) ([]eventstore.Event, error) {
	rs, err := s.client.ReadStream(ctx, s.ns+stream, opts, count)
	if err != nil {
		if errorCode(err) == kurrentdb.ErrorCodeResourceNotFound {
			return nil, nil
		}
		return nil, err
	}
	defer rs.Close()
	var out []eventstore.Event
	for {
		re, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			if errorCode(err) == kurrentdb.ErrorCodeResourceNotFound {
				return nil, nil
			}
			return nil, err
		}
		e, ok, err := fromRecorded(s.ns, re.OriginalEvent())
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, e)
		}
	}
}

// ReadAll implements eventstore.Store. The client's $all reads take no
// filter, so pages of $all are filtered here; the server returns only
// committed events in log order, so every page is a stable prefix.
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) ([]eventstore.Event, error) {
	if s.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	limit, err := eventstore.ValidateLimit(opts.Limit)
	if err != nil {
		return nil, err
	}
	if opts.After < 0 {
		return nil, &eventstore.ValidationError{Field: "after", Reason: "is negative"}
	}
	from := kurrentdb.AllPosition(kurrentdb.Start{})
	var seen *kurrentdb.Position // records up to it are already read
	if opts.After > 0 {
		p := fromPosition(opts.After)
		from, seen = p, &p
	}
	var out []eventstore.Event
	for {
		n, _, err := s.page(ctx, kurrentdb.Forwards, from, func(r *kurrentdb.RecordedEvent) (bool, error) {
			if seen != nil && !after(r.Position, *seen) {
				return false, nil
			}
			p := r.Position
			seen = &p
			e, ok, err := fromRecorded(s.ns, r)
			if err != nil || !ok || !opts.Filter.Match(e) {
				return false, err
			}
			out = append(out, e)
			return len(out) == limit, nil
		})
		if err != nil {
			return nil, fmt.Errorf("esdb: read $all: %w", ctxErr(ctx, err))
		}
		if len(out) == limit || n < s.readPage || seen == nil {
			return out, nil
		}
		from = *seen
	}
}

// page reads one page of $all from `from` in direction dir and hands each
// record to visit until it says stop; it returns how many records the page
// held (up to where visit stopped) and the position of the last one.
func (s *Store) page(ctx context.Context, dir kurrentdb.Direction, from kurrentdb.AllPosition, visit func(*kurrentdb.RecordedEvent) (stop bool, err error)) (uint64, *kurrentdb.Position, error) {
	rs, err := s.client.ReadAll(ctx, kurrentdb.ReadAllOptions{Direction: dir, From: from, RequiresLeader: true}, s.readPage)
	if err != nil {
		return 0, nil, err
	}
	defer rs.Close()
	var n uint64
	var last *kurrentdb.Position
	for {
		re, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return n, last, nil
		}
		if err != nil {
			return n, last, err
		}
		n++
		r := re.OriginalEvent()
		if r == nil {
			continue
		}
		p := r.Position
		last = &p
		if stop, err := visit(r); err != nil || stop {
			return n, last, err
		}
	}
}

// after orders $all positions as the server does: by commit, then prepare.
func after(a, b kurrentdb.Position) bool {
	return a.Commit > b.Commit || a.Commit == b.Commit && a.Prepare > b.Prepare
}

// Head implements eventstore.Store: the position of the namespace's last
// event, found by reading $all backwards (with a namespace on a shared
// server, as far back as that event is). Head and ReadAll read from the
// leader, so that a head is never past what a later ReadAll can return (a
// lagging follower could answer the read).
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	if s.closed.Load() {
		return 0, eventstore.ErrClosed
	}
	from := kurrentdb.AllPosition(kurrentdb.End{})
	for {
		var head eventstore.Position
		n, oldest, err := s.page(ctx, kurrentdb.Backwards, from, func(r *kurrentdb.RecordedEvent) (bool, error) {
			e, ok, err := fromRecorded(s.ns, r)
			if ok {
				head = e.Position
			}
			return ok, err
		})
		if err != nil {
			return 0, fmt.Errorf("esdb: head: %w", ctxErr(ctx, err))
		}
		if head > 0 || n < s.readPage || oldest == nil {
			return head, nil
		}
		from = *oldest
	}
}

// Close implements eventstore.Store.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.client.Close()
}

// Ping checks that the server answers a read, for readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return eventstore.ErrClosed
	}
	rs, err := s.client.ReadAll(ctx, kurrentdb.ReadAllOptions{Direction: kurrentdb.Backwards, From: kurrentdb.End{}}, 1)
	if err != nil {
		return fmt.Errorf("esdb: ping: %w", err)
	}
	defer rs.Close()
	if _, err := rs.Recv(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("esdb: ping: %w", err)
	}
	return nil
}

// ctxErr prefers the context's own error: the client reports a cancelled
// call as one of its own errors, and callers branch on context.Canceled.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
