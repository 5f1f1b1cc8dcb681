package esdbstandin

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	serverfeatures "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v1/serverfeatures"
	api "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v1/streams"
	"google.golang.org/grpc"
)

// firstLogPosition is where the first record of the log sits; non-zero so
// that a zero position is never a valid event position, as on a real server.
const firstLogPosition = 1000

// recordOverhead is added to len(data) when advancing the log position, so
// positions have gaps like a real transaction file.
const recordOverhead = 100

// Position is a $all log position, the pair the protocol carries everywhere.
type Position struct {
	// Commit is the commit position (the position of the commit record).
	Commit uint64
	// Prepare is the prepare position (the position of the event's own record).
	Prepare uint64
}

// less orders positions the way the server orders $all (TFPos comparison).
func (p Position) less(o Position) bool {
	if p.Commit != o.Commit {
		return p.Commit < o.Commit
	}
	return p.Prepare < o.Prepare
}

// String renders a position as "C:commit/P:prepare" for test failure output.
func (p Position) String() string {
	return fmt.Sprintf("C:%d/P:%d", p.Commit, p.Prepare)
}

// Event is an event to write directly into the log (AppendSystem, AppendLegacy, Append).
type Event struct {
	// ID is the event id; uuid.Nil means "generate one".
	ID uuid.UUID
	// Type is the event type.
	Type string
	// ContentType is "application/json" or "application/octet-stream"; empty means JSON.
	ContentType string
	// Data is the event payload.
	Data []byte
	// Metadata is the user (custom) metadata.
	Metadata []byte
}

// Record is one event stored in the stand-in's log, as tests see it.
type Record struct {
	// ID is the event id.
	ID uuid.UUID
	// Stream is the stream the event belongs to.
	Stream string
	// Revision is the 0-based revision of the event in its stream.
	Revision uint64
	// Position is the event's $all position.
	Position Position
	// Type is the event type (system metadata "type").
	Type string
	// ContentType is the content type (system metadata "content-type").
	ContentType string
	// Data is the event payload.
	Data []byte
	// Metadata is the user (custom) metadata.
	Metadata []byte
	// Created is the time the stand-in stored the event.
	Created time.Time
}

// record is the immutable stored form; never mutated after being appended.
type record struct {
	Record
	sysMeta map[string]string
}

// Server is the stand-in node: an in-memory log served over real gRPC.
type Server struct {
	mu      sync.Mutex
	log     []*record            // $all, ordered by (commit, prepare)
	streams map[string][]*record // per stream, index == revision
	ids     map[string]map[uuid.UUID]uint64
	// retriesWithoutPosition answers recognised retries without a position.
	retriesWithoutPosition bool
	nextPos                uint64
	changed                chan struct{} // closed (and replaced) on every write
	subs                   map[*subscription]struct{}
	requests               []Request
	stopped                bool

	grpcServer *grpc.Server
	listener   net.Listener
	stopOnce   sync.Once
}

// subscription is an open subscription; dropped is closed by DropSubscriptions.
type subscription struct {
	dropped chan struct{}
}

// Start binds 127.0.0.1:0, serves the protocol and registers t.Cleanup(Stop).
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := listen()
	if err != nil {
		t.Fatalf("esdbstandin: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func listen() (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{
		streams:  map[string][]*record{},
		ids:      map[string]map[uuid.UUID]uint64{},
		nextPos:  firstLogPosition,
		changed:  make(chan struct{}),
		subs:     map[*subscription]struct{}{},
		listener: lis,
	}
	s.grpcServer = grpc.NewServer()
	api.RegisterStreamsServer(s.grpcServer, &streamsService{s: s})
	serverfeatures.RegisterServerFeaturesServer(s.grpcServer, &featuresService{})
	go func() { _ = s.grpcServer.Serve(lis) }()
	return s, nil
}

// URL is the connection string for the official client (single node, no TLS, no discovery).
func (s *Server) URL() string {
	return fmt.Sprintf("kurrentdb://%s?tls=false", s.listener.Addr().String())
}

// Addr is the host:port the stand-in listens on, for clients that want it raw.
func (s *Server) Addr() string {
	return s.listener.Addr().String()
}

// Stop ends every open call and closes the listener; safe to call twice.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.dropAllLocked()
		s.mu.Unlock()
		s.grpcServer.Stop()
	})
}

// RetriesWithoutPosition makes recognised retries answer without a log
// position, as servers before the idempotent log position did, so that a
// client is tested against both answers.
func (s *Server) RetriesWithoutPosition() {
	s.mu.Lock()
	s.retriesWithoutPosition = true
	s.mu.Unlock()
}

// DropSubscriptions ends every open subscription with codes.Unavailable, as a
// server restart or leader change would; later subscriptions work normally.
func (s *Server) DropSubscriptions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAllLocked()
}

func (s *Server) dropAllLocked() {
	for sub := range s.subs {
		close(sub.dropped)
		delete(s.subs, sub)
	}
}

// Append writes events to a stream with expected revision "any", without
// going through gRPC (test setup); it returns each event's position.
func (s *Server) Append(stream string, events ...Event) []Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Position, 0, len(events))
	for _, e := range events {
		r := s.writeLocked(stream, e, nil)
		out = append(out, r.Position)
	}
	s.notifyLocked()
	return out
}

// AppendSystem writes one system event (e.g. "$metadata" into "$$foo", or
// "$statsCollected" into "$stats-x") into $all so system-event filtering can be tested.
func (s *Server) AppendSystem(stream, eventType string, data []byte) Position {
	return s.Append(stream, Event{Type: eventType, Data: data})[0]
}

// AppendLegacy writes events as one pre-gRPC explicit transaction: each event
// has its own, distinct, increasing prepare position and all share one commit
// position that lies after the last prepare (so commit != prepare).
func (s *Server) AppendLegacy(stream string, events ...Event) []Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(events) == 0 {
		return nil
	}
	// Reserve the prepares first, then the commit record after them.
	prepares := make([]uint64, len(events))
	for i, e := range events {
		prepares[i] = s.nextPos
		s.nextPos += recordOverhead + uint64(len(e.Data))
	}
	commit := s.nextPos
	s.nextPos += recordOverhead
	out := make([]Position, 0, len(events))
	for i, e := range events {
		p := Position{Commit: commit, Prepare: prepares[i]}
		r := s.writeLocked(stream, e, &p)
		out = append(out, r.Position)
	}
	s.notifyLocked()
	return out
}

// Records returns a copy of the whole $all log in log order, for assertions.
func (s *Server) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, 0, len(s.log))
	for _, r := range s.log {
		out = append(out, r.clone())
	}
	return out
}

// Requests returns a copy of the log of requests received over gRPC, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, 0, len(s.requests))
	for _, r := range s.requests {
		out = append(out, r.clone())
	}
	return out
}

// ResetRequests forgets the requests received so far, so a test can assert
// only on what happens after its setup.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

func (s *Server) logRequest(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
}

// writeLocked stores one event. pos == nil means a modern single-record write
// (commit == prepare == next log position). Caller must hold s.mu and call
// notifyLocked afterwards.
func (s *Server) writeLocked(stream string, e Event, pos *Position) *record {
	id := e.ID
	if id == uuid.Nil {
		id = uuid.New()
	}
	ct := e.ContentType
	if ct == "" {
		ct = "application/json"
	}
	var p Position
	if pos != nil {
		p = *pos
	} else {
		p = Position{Commit: s.nextPos, Prepare: s.nextPos}
		s.nextPos += recordOverhead + uint64(len(e.Data))
	}
	now := time.Now().UTC()
	rev := uint64(len(s.streams[stream]))
	r := &record{
		Record: Record{
			ID:          id,
			Stream:      stream,
			Revision:    rev,
			Position:    p,
			Type:        e.Type,
			ContentType: ct,
			Data:        cloneBytes(e.Data),
			Metadata:    cloneBytes(e.Metadata),
			Created:     now,
		},
		sysMeta: map[string]string{
			"type":         e.Type,
			"content-type": ct,
			// .NET ticks (100ns) since the Unix epoch, as the client parses it.
			"created": fmt.Sprintf("%d", now.UnixNano()/100),
		},
	}
	s.log = append(s.log, r)
	s.streams[stream] = append(s.streams[stream], r)
	if s.ids[stream] == nil {
		s.ids[stream] = map[uuid.UUID]uint64{}
	}
	if _, dup := s.ids[stream][id]; !dup {
		s.ids[stream][id] = rev
	}
	return r
}

// notifyLocked wakes every subscription waiting for new records.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (r *record) clone() Record {
	c := r.Record
	c.Data = cloneBytes(r.Data)
	c.Metadata = cloneBytes(r.Metadata)
	return c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append([]byte(nil), b...)
}
