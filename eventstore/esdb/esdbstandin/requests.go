package esdbstandin

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	api "github.com/kurrent-io/KurrentDB-Client-Go/protos/kurrentdb/protocols/v1/streams"
)

// Request kinds recorded in Request.Kind.
const (
	// KindAppend is a Streams.Append call.
	KindAppend = "append"
	// KindRead is a Streams.Read call with a count (a plain read).
	KindRead = "read"
	// KindSubscribe is a Streams.Read call with subscription options.
	KindSubscribe = "subscribe"
)

// AllStream is the stream name recorded for reads and subscriptions of $all.
const AllStream = "$all"

// Request is one gRPC call as the stand-in understood it, so tests can
// assert what the adapter sent without decoding protobuf themselves.
type Request struct {
	// Kind is KindAppend, KindRead or KindSubscribe.
	Kind string
	// Stream is the stream name, or AllStream for $all.
	Stream string
	// ExpectedRevision is, for appends, "any", "no_stream", "stream_exists" or the decimal revision.
	ExpectedRevision string
	// EventIDs are the appended events' ids (canonical UUID strings), in order.
	EventIDs []string
	// EventTypes are the appended events' types, in order.
	EventTypes []string
	// From is where a read/subscription starts: "start", "end", "revision" or "position".
	From string
	// FromRevision is set when From == "revision".
	FromRevision *uint64
	// FromPosition is set when From == "position".
	FromPosition *Position
	// Direction is "forwards" or "backwards" (subscriptions are always forwards).
	Direction string
	// Count is the max count of a plain read (0 for subscriptions).
	Count uint64
	// ResolveLinks is the resolve_links flag of reads and subscriptions.
	ResolveLinks bool
	// Filter is the server-side filter of a $all read/subscription, nil if none.
	Filter *Filter
}

// Filter describes the filter_options a client sent.
type Filter struct {
	// On is "stream" (stream identifier filter) or "type" (event type filter).
	On string
	// Prefixes is the prefix list (empty when Regex is used).
	Prefixes []string
	// Regex is the regular expression (empty when Prefixes are used).
	Regex string
	// MaxWindow is the max search window; 0 when the client sent the "count" window.
	MaxWindow uint32
	// CheckpointIntervalMultiplier is the checkpoint interval multiplier as sent.
	CheckpointIntervalMultiplier uint32
}

func (r Request) clone() Request {
	c := r
	c.EventIDs = append([]string(nil), r.EventIDs...)
	c.EventTypes = append([]string(nil), r.EventTypes...)
	if r.FromRevision != nil {
		v := *r.FromRevision
		c.FromRevision = &v
	}
	if r.FromPosition != nil {
		v := *r.FromPosition
		c.FromPosition = &v
	}
	if r.Filter != nil {
		f := *r.Filter
		f.Prefixes = append([]string(nil), r.Filter.Prefixes...)
		c.Filter = &f
	}
	return c
}

// expectedString renders an append expectation the way Request records it.
func expectedString(o *api.AppendReq_Options) string {
	switch v := o.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_Any:
		return "any"
	case *api.AppendReq_Options_NoStream:
		return "no_stream"
	case *api.AppendReq_Options_StreamExists:
		return "stream_exists"
	case *api.AppendReq_Options_Revision:
		return strconv.FormatUint(v.Revision, 10)
	default:
		return "unset"
	}
}

// compiledFilter is a parsed filter_options ready for matching.
type compiledFilter struct {
	desc     Filter
	onType   bool
	prefixes []string
	re       *regexp.Regexp
	// interval is the number of consecutive non-matching events after which
	// a filtered subscription emits a checkpoint.
	interval int
}

// defaultWindow stands in for the server's window when the client asked for
// the "count" window (no max search window).
const defaultWindow = 32

func compileFilter(fo *api.ReadReq_Options_FilterOptions) (*compiledFilter, error) {
	var expr *api.ReadReq_Options_FilterOptions_Expression
	cf := &compiledFilter{}
	switch {
	case fo.GetStreamIdentifier() != nil:
		expr = fo.GetStreamIdentifier()
		cf.desc.On = "stream"
	case fo.GetEventType() != nil:
		expr = fo.GetEventType()
		cf.desc.On = "type"
		cf.onType = true
	default:
		return nil, fmt.Errorf("filter has neither stream_identifier nor event_type")
	}
	cf.desc.Prefixes = append([]string(nil), expr.GetPrefix()...)
	cf.desc.Regex = expr.GetRegex()
	cf.desc.MaxWindow = fo.GetMax()
	cf.desc.CheckpointIntervalMultiplier = fo.GetCheckpointIntervalMultiplier()
	cf.prefixes = cf.desc.Prefixes
	if cf.desc.Regex != "" {
		re, err := regexp.Compile(cf.desc.Regex)
		if err != nil {
			return nil, fmt.Errorf("bad filter regex %q: %w", cf.desc.Regex, err)
		}
		cf.re = re
	}
	window := int(cf.desc.MaxWindow)
	if window == 0 {
		window = defaultWindow
	}
	mult := int(cf.desc.CheckpointIntervalMultiplier)
	if mult == 0 {
		mult = 1
	}
	cf.interval = window * mult
	return cf, nil
}

// match reports whether a record passes the filter. Prefixes are ORed; a
// regex matches anywhere in the name (like .NET Regex.IsMatch). A filter with
// neither prefixes nor regex matches everything.
func (f *compiledFilter) match(r *record) bool {
	if f == nil {
		return true
	}
	name := r.Stream
	if f.onType {
		name = r.Type
	}
	if f.re != nil {
		return f.re.MatchString(name)
	}
	if len(f.prefixes) == 0 {
		return true
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
