package esdbstandin

import (
	"context"
	"encoding/binary"
	"errors"
	"io"

	"github.com/google/uuid"
	serverfeatures "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v1/serverfeatures"
	"github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v1/shared"
	api "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v1/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// featuresService answers ServerFeatures.GetSupportedMethods. The client
// calls it once per connection; it needs a parseable version string (an
// empty one makes the client fail to connect). Advertising no batchappend /
// persistent-subscription / multi-stream features keeps the client on the
// plain Streams.Append and Streams.Read calls this stand-in implements.
type featuresService struct {
	serverfeatures.UnimplementedServerFeaturesServer
}

// serverVersion is what the stand-in claims to be.
const serverVersion = "25.0.0"

func (featuresService) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	const svc = "event_store.client.streams.streams"
	return &serverfeatures.SupportedMethods{
		EventStoreServerVersion: serverVersion,
		Methods: []*serverfeatures.SupportedMethod{
			{ServiceName: svc, MethodName: "read"},
			{ServiceName: svc, MethodName: "append"},
		},
	}, nil
}

// streamsService implements the Streams service over a Server. Delete,
// Tombstone and BatchAppend answer Unimplemented.
type streamsService struct {
	api.UnimplementedStreamsServer
	s *Server
}

// proposal is one decoded AppendReq.ProposedMessage.
type proposal struct {
	id   uuid.UUID
	ev   Event
	meta map[string]string
}

// Append implements the client-streaming Streams.Append call.
func (svc *streamsService) Append(stream grpc.ClientStreamingServer[api.AppendReq, api.AppendResp]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "esdbstandin: first append message must carry options")
	}
	name := string(opts.GetStreamIdentifier().GetStreamName())
	req := Request{Kind: KindAppend, Stream: name, ExpectedRevision: expectedString(opts)}

	var proposed []proposal
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			svc.s.logRequest(req)
			return err
		}
		pm := m.GetProposedMessage()
		if pm == nil {
			svc.s.logRequest(req)
			return status.Error(codes.InvalidArgument, "esdbstandin: expected a proposed message after the options")
		}
		id, err := parseUUID(pm.GetId())
		if err != nil {
			svc.s.logRequest(req)
			return status.Errorf(codes.InvalidArgument, "esdbstandin: bad event id: %v", err)
		}
		req.EventIDs = append(req.EventIDs, id.String())
		req.EventTypes = append(req.EventTypes, pm.GetMetadata()["type"])
		// Like the server: "type" and "content-type" are required metadata.
		for _, k := range []string{"type", "content-type"} {
			if _, ok := pm.GetMetadata()[k]; !ok {
				svc.s.logRequest(req)
				return status.Errorf(codes.InvalidArgument, "esdbstandin: required metadata property %q is missing", k)
			}
		}
		proposed = append(proposed, proposal{
			id: id,
			ev: Event{
				ID:          id,
				Type:        pm.GetMetadata()["type"],
				ContentType: pm.GetMetadata()["content-type"],
				Data:        pm.GetData(),
				Metadata:    pm.GetCustomMetadata(),
			},
		})
	}
	svc.s.logRequest(req)
	return stream.SendAndClose(svc.s.appendProposed(name, opts, proposed))
}

// appendProposed applies the server's expected-version and idempotency rules
// (modelled on the server's IndexWriter.CheckCommit) and writes if allowed.
//
// Idempotency, as the server's commit check decides it:
//   - for an exact/no_stream expectation behind the stream, the proposed ids
//     must equal those stored at expected+1 onwards; the first differing is
//     a wrong expected version, a later one CorruptedIdempotency (answered as
//     a wrong expected version too);
//   - for any/stream_exists, every proposed id must be in this stream, in
//     any order (the server looks each up in its cache of recent ids): the
//     first unknown means a normal write, a later unknown CorruptedIdempotency.
//
// A recognised retry is answered with Success, current_revision = the
// revision of the last proposed id, and the log position of that event (as
// current servers do; with RetriesWithoutPosition, no position, as older
// ones did). Unlike the server, the stand-in remembers every id.
func (s *Server) appendProposed(name string, opts *api.AppendReq_Options, proposed []proposal) *api.AppendResp {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.streams[name]
	n := uint64(len(cur))

	wrong := func() *api.AppendResp { return wrongExpected(opts, cur) }

	// idempotentFrom checks proposed ids against stored events from revision
	// start on: all match → idempotent; first differs → no match; later differs → corrupted.
	idempotentFrom := func(start uint64) (matched, corrupted bool) {
		for i, p := range proposed {
			rev := start + uint64(i)
			if rev >= n || cur[rev].ID != p.id {
				return false, i > 0
			}
		}
		return true, false
	}
	idempotentOK := func(end uint64) *api.AppendResp {
		succ := &api.AppendResp_Success{
			CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: end},
			PositionOption:        &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}},
		}
		if !s.retriesWithoutPosition {
			p := cur[end].Position
			succ.PositionOption = &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{CommitPosition: p.Commit, PreparePosition: p.Prepare}}
		}
		return &api.AppendResp{Result: &api.AppendResp_Success_{Success: succ}}
	}

	switch exp := opts.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_Any, *api.AppendReq_Options_StreamExists:
		if _, ok := exp.(*api.AppendReq_Options_StreamExists); ok && n == 0 {
			return wrong()
		}
		if len(proposed) > 0 {
			if _, ok := s.ids[name][proposed[0].id]; ok {
				var end uint64
				for _, p := range proposed {
					rev, ok := s.ids[name][p.id]
					if !ok {
						return wrong() // first id known, a later one not: CorruptedIdempotency
					}
					end = rev
				}
				return idempotentOK(end)
			}
		}
	case *api.AppendReq_Options_NoStream, *api.AppendReq_Options_Revision:
		// next is the revision the first proposed event must get.
		var next uint64
		if r, ok := exp.(*api.AppendReq_Options_Revision); ok {
			next = r.Revision + 1
		}
		switch {
		case next == n:
			// Expectation met: normal write below.
		case next < n:
			if len(proposed) == 0 {
				return wrong()
			}
			matched, _ := idempotentFrom(next)
			if matched {
				return idempotentOK(next + uint64(len(proposed)) - 1)
			}
			return wrong()
		default:
			return wrong()
		}
	default:
		return wrongExpected(opts, cur)
	}

	if len(proposed) == 0 {
		succ := &api.AppendResp_Success{PositionOption: &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}}
		if n == 0 {
			succ.CurrentRevisionOption = &api.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
		} else {
			succ.CurrentRevisionOption = &api.AppendResp_Success_CurrentRevision{CurrentRevision: n - 1}
		}
		return &api.AppendResp{Result: &api.AppendResp_Success_{Success: succ}}
	}

	var last *record
	for _, p := range proposed {
		last = s.writeLocked(name, p.ev, nil)
	}
	s.notifyLocked()
	return &api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
		CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: last.Revision},
		PositionOption: &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{
			CommitPosition:  last.Position.Commit,
			PreparePosition: last.Position.Prepare,
		}},
	}}}
}

// wrongExpected builds the server's WrongExpectedVersion answer: current
// revision (or current_no_stream) and the expected option echoed, in both
// the current fields and the legacy 20.6.0 ones.
func wrongExpected(opts *api.AppendReq_Options, cur []*record) *api.AppendResp {
	w := &api.AppendResp_WrongExpectedVersion{}
	if len(cur) == 0 {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		w.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
	} else {
		rev := uint64(len(cur) - 1)
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: rev}
		w.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: rev}
	}
	switch v := opts.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_Revision:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: v.Revision}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: v.Revision}
	case *api.AppendReq_Options_NoStream:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case *api.AppendReq_Options_StreamExists:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
	default:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
	}
	return &api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
}

// parseUUID accepts both wire forms of shared.UUID.
func parseUUID(id *shared.UUID) (uuid.UUID, error) {
	if id == nil {
		return uuid.Nil, errors.New("missing id")
	}
	if st := id.GetStructured(); st != nil {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], uint64(st.GetMostSignificantBits()))
		binary.BigEndian.PutUint64(b[8:], uint64(st.GetLeastSignificantBits()))
		return uuid.UUID(b), nil
	}
	if _, ok := id.GetValue().(*shared.UUID_String_); ok {
		return uuid.Parse(id.GetString_())
	}
	return uuid.Nil, errors.New("id has neither structured nor string value")
}

// protoUUID renders an id in the form the read request asked for.
func protoUUID(id uuid.UUID, asString bool) *shared.UUID {
	if asString {
		return &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}}
	}
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
		LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
	}}}
}

// toReadResp renders a stored record as a ReadResp event. Every event, also
// those read from a stream, carries its commit/prepare positions and the
// commit_position option, as modern servers send them.
func toReadResp(r *record, uuidAsString bool) *api.ReadResp {
	meta := make(map[string]string, len(r.sysMeta))
	for k, v := range r.sysMeta {
		meta[k] = v
	}
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id:               protoUUID(r.ID, uuidAsString),
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(r.Stream)},
			StreamRevision:   r.Revision,
			PreparePosition:  r.Position.Prepare,
			CommitPosition:   r.Position.Commit,
			Metadata:         meta,
			CustomMetadata:   r.Metadata,
			Data:             r.Data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: r.Position.Commit},
	}}}
}
