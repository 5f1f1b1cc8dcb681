package esdbstandin

import (
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v1/shared"
	api "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v1/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// readSpec is a decoded ReadReq.
type readSpec struct {
	all        bool
	stream     string
	from       string // start | end | revision | position
	rev        uint64
	pos        Position
	backwards  bool
	count      uint64
	subscribe  bool
	filter     *compiledFilter
	uuidString bool
}

func parseRead(req *api.ReadReq) (readSpec, Request, error) {
	var sp readSpec
	opts := req.GetOptions()
	if opts == nil {
		return sp, Request{}, status.Error(codes.InvalidArgument, "esdbstandin: read request without options")
	}
	sp.backwards = opts.GetReadDirection() == api.ReadReq_Options_Backwards
	sp.uuidString = opts.GetUuidOption().GetString_() != nil
	sp.subscribe = opts.GetSubscription() != nil
	sp.count = opts.GetCount()
	if fo := opts.GetFilter(); fo != nil {
		f, err := compileFilter(fo)
		if err != nil {
			return sp, Request{}, status.Errorf(codes.InvalidArgument, "esdbstandin: %v", err)
		}
		sp.filter = f
	}

	switch {
	case opts.GetStream() != nil:
		so := opts.GetStream()
		sp.stream = string(so.GetStreamIdentifier().GetStreamName())
		switch so.GetRevisionOption().(type) {
		case *api.ReadReq_Options_StreamOptions_Revision:
			sp.from, sp.rev = "revision", so.GetRevision()
		case *api.ReadReq_Options_StreamOptions_End:
			sp.from = "end"
		default:
			sp.from = "start"
		}
	case opts.GetAll() != nil:
		ao := opts.GetAll()
		sp.all, sp.stream = true, AllStream
		switch ao.GetAllOption().(type) {
		case *api.ReadReq_Options_AllOptions_Position:
			p := ao.GetPosition()
			sp.from, sp.pos = "position", Position{Commit: p.GetCommitPosition(), Prepare: p.GetPreparePosition()}
		case *api.ReadReq_Options_AllOptions_End:
			sp.from = "end"
		default:
			sp.from = "start"
		}
	default:
		return sp, Request{}, status.Error(codes.InvalidArgument, "esdbstandin: read request names neither a stream nor $all")
	}

	r := Request{
		Kind:         KindRead,
		Stream:       sp.stream,
		From:         sp.from,
		Direction:    "forwards",
		Count:        sp.count,
		ResolveLinks: opts.GetResolveLinks(),
	}
	if sp.subscribe {
		r.Kind = KindSubscribe
	}
	if sp.backwards {
		r.Direction = "backwards"
	}
	switch sp.from {
	case "revision":
		v := sp.rev
		r.FromRevision = &v
	case "position":
		v := sp.pos
		r.FromPosition = &v
	}
	if sp.filter != nil {
		f := sp.filter.desc
		r.Filter = &f
	}
	return sp, r, nil
}

// Read implements Streams.Read: plain reads (count option) and catch-up
// subscriptions (subscription option).
func (svc *streamsService) Read(req *api.ReadReq, stream grpc.ServerStreamingServer[api.ReadResp]) error {
	sp, logged, err := parseRead(req)
	if err != nil {
		return err
	}
	svc.s.logRequest(logged)
	if sp.subscribe {
		return svc.s.subscribe(sp, stream)
	}
	for _, r := range svc.s.collectRead(sp) {
		if r == nil { // stream not found marker
			return stream.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
				StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(sp.stream)},
			}}})
		}
		if err := stream.Send(toReadResp(r, sp.uuidString)); err != nil {
			return err
		}
	}
	return nil
}

// collectRead returns the records a plain read answers, or a single nil
// element meaning StreamNotFound. No checkpoints are ever sent on plain reads:
// the official client's ReadStream.Recv panics on anything but events and
// stream_not_found.
//
// Inclusivity (the server's rules):
//   - stream forwards from revision R: revisions >= R; backwards from R:
//     revisions <= R (R above the last revision reads from the last).
//   - $all forwards from position P: events with (commit,prepare) >= P, so the
//     event at exactly P is included; backwards from P: events strictly
//     before P. Reading back from an event's own position therefore never
//     returns that event again, and forwards from it always does.
//   - A filter on a $all read is honoured; count counts matching events.
func (s *Server) collectRead(sp readSpec) []*record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*record
	if !sp.all {
		recs := s.streams[sp.stream]
		if len(recs) == 0 {
			return []*record{nil}
		}
		n := uint64(len(recs))
		if !sp.backwards {
			var i uint64
			switch sp.from {
			case "end":
				i = n
			case "revision":
				i = sp.rev
			}
			for ; i < n && uint64(len(out)) < sp.count; i++ {
				out = append(out, recs[i])
			}
			return out
		}
		i := int64(n) - 1
		switch sp.from {
		case "start":
			i = 0
		case "revision":
			if sp.rev < n {
				i = int64(sp.rev)
			}
		}
		for ; i >= 0 && uint64(len(out)) < sp.count; i-- {
			out = append(out, recs[i])
		}
		return out
	}

	log := s.log
	if !sp.backwards {
		i := 0
		switch sp.from {
		case "end":
			i = len(log)
		case "position":
			i = s.firstAtOrAfterLocked(sp.pos)
		}
		for ; i < len(log) && uint64(len(out)) < sp.count; i++ {
			if sp.filter.match(log[i]) {
				out = append(out, log[i])
			}
		}
		return out
	}
	i := len(log) - 1
	switch sp.from {
	case "start":
		i = -1
	case "position":
		i = s.firstAtOrAfterLocked(sp.pos) - 1
	}
	for ; i >= 0 && uint64(len(out)) < sp.count; i-- {
		if sp.filter.match(log[i]) {
			out = append(out, log[i])
		}
	}
	return out
}

// firstAtOrAfterLocked is the index of the first log record with position >= p.
func (s *Server) firstAtOrAfterLocked(p Position) int {
	return sort.Search(len(s.log), func(i int) bool { return !s.log[i].Position.less(p) })
}

// firstAfterLocked is the index of the first log record with position > p.
func (s *Server) firstAfterLocked(p Position) int {
	return sort.Search(len(s.log), func(i int) bool { return p.less(s.log[i].Position) })
}

// subscribe serves a catch-up subscription: confirmation, catch-up events
// strictly after the start point, caught_up, then live events until the
// client goes away, DropSubscriptions or Stop.
//
// Checkpoints (filtered $all subscriptions only): after every `interval`
// consecutive non-matching events (interval = checkpointIntervalMultiplier *
// max window, the "count" window counting as 32, a zero multiplier as 1) a
// checkpoint carrying the position of the last non-matching event is sent,
// in catch-up and live phases alike. Resuming from it (exclusive) skips only
// events that did not match. This is a simplification of the server's cadence;
// do not test exact checkpoint counts against it.
func (s *Server) subscribe(sp readSpec, stream grpc.ServerStreamingServer[api.ReadResp]) error {
	ctx := stream.Context()
	sub := &subscription{dropped: make(chan struct{})}

	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return status.Error(codes.Unavailable, "esdbstandin: server stopped")
	}
	s.subs[sub] = struct{}{}
	// Decide where catch-up starts and which records belong to the subscription.
	cursor := 0
	var match func(*record) bool
	if sp.all {
		switch sp.from {
		case "end":
			cursor = len(s.log)
		case "position":
			cursor = s.firstAfterLocked(sp.pos)
		}
		match = sp.filter.match
	} else {
		name := sp.stream
		switch sp.from {
		case "end":
			cursor = len(s.log)
			match = func(r *record) bool { return r.Stream == name }
		case "revision":
			after := sp.rev
			match = func(r *record) bool { return r.Stream == name && r.Revision > after }
		default:
			match = func(r *record) bool { return r.Stream == name }
		}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()

	dropped := func() error {
		select {
		case <-sub.dropped:
			return status.Error(codes.Unavailable, "esdbstandin: subscription dropped")
		case <-ctx.Done():
			return ctx.Err()
		default:
			return nil
		}
	}

	if err := stream.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{
		Confirmation: &api.ReadResp_SubscriptionConfirmation{SubscriptionId: uuid.NewString()},
	}}); err != nil {
		return err
	}

	caughtUp := false
	nonMatching := 0
	for {
		s.mu.Lock()
		batch := s.log[cursor:len(s.log):len(s.log)]
		wait := s.changed
		var caught *api.ReadResp_CaughtUp
		if !caughtUp {
			caught = &api.ReadResp_CaughtUp{Timestamp: timestamppb.Now()}
			if sp.all {
				if n := len(s.log); n > 0 {
					p := s.log[n-1].Position
					caught.Position = &api.ReadResp_Position{CommitPosition: p.Commit, PreparePosition: p.Prepare}
				}
			} else if recs := s.streams[sp.stream]; len(recs) > 0 {
				rev := int64(len(recs) - 1)
				caught.StreamRevision = &rev
			}
		}
		s.mu.Unlock()

		for _, r := range batch {
			if err := dropped(); err != nil {
				return err
			}
			cursor++
			if match(r) {
				nonMatching = 0
				if err := stream.Send(toReadResp(r, sp.uuidString)); err != nil {
					return err
				}
				continue
			}
			if sp.filter == nil {
				continue
			}
			nonMatching++
			if nonMatching >= sp.filter.interval {
				nonMatching = 0
				if err := stream.Send(&api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: &api.ReadResp_Checkpoint{
					CommitPosition:  r.Position.Commit,
					PreparePosition: r.Position.Prepare,
					Timestamp:       timestamppb.New(time.Now()),
				}}}); err != nil {
					return err
				}
			}
		}
		if caught != nil {
			caughtUp = true
			if err := stream.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: caught}}); err != nil {
				return err
			}
		}

		select {
		case <-wait:
		case <-sub.dropped:
			return status.Error(codes.Unavailable, "esdbstandin: subscription dropped")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
