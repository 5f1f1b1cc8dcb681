package eventstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
)

var (
	// ErrUnknownEventType means no payload type is registered for an event
	// type name (on decode) or Go type (on encode).
	ErrUnknownEventType = errors.New("unknown event type")
	// ErrSchemaVersion means an event's schema version has no upcaster path to
	// the registered version, or is newer than the code knows.
	ErrSchemaVersion = errors.New("unsupported event schema version")
	// ErrDecode means an event's data does not decode into its payload type.
	ErrDecode = errors.New("event data does not decode")
)

// Upcaster turns the JSON of one schema version of an event into the JSON of
// the next version. Upcasters are pure: old events are never rewritten in the
// store, they are upcast every time they are read.
type Upcaster func(old json.RawMessage) (json.RawMessage, error)

// Codec maps event type names to Go payload types and back, and upcasts old
// schema versions on the way in. Register everything at start; after that a
// Codec is safe for concurrent use.
type Codec struct {
	mu     sync.RWMutex
	byName map[string]*codecEntry
	byType map[reflect.Type]*codecEntry
}

type codecEntry struct {
	name      string
	version   int
	goType    reflect.Type
	upcasters map[int]Upcaster // from version k to k+1
}

// NewCodec returns an empty Codec.
func NewCodec() *Codec {
	return &Codec{byName: map[string]*codecEntry{}, byType: map[reflect.Type]*codecEntry{}}
}

// Register binds event type name, at its current schema version, to the
// payload type T. It panics on a duplicate name or type: that is a
// programming error found at start, never at run time.
func Register[T any](c *Codec, name string, version int) {
	c.register(reflect.TypeFor[T](), name, version)
}

// RegisterType is Register for callers that cannot name the type
// parameter: domain packages register their events through an interface of
// their own with this method, so they need not import this package.
func (c *Codec) RegisterType(name string, version int, sample any) {
	c.register(reflect.TypeOf(sample), name, version)
}

func (c *Codec) register(t reflect.Type, name string, version int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version < 1 {
		panic(fmt.Sprintf("eventstore: %s registered with schema version %d", name, version))
	}
	if _, dup := c.byName[name]; dup {
		panic("eventstore: event type registered twice: " + name)
	}
	if _, dup := c.byType[t]; dup {
		panic("eventstore: payload type registered twice: " + t.String())
	}
	e := &codecEntry{name: name, version: version, goType: t, upcasters: map[int]Upcaster{}}
	c.byName[name] = e
	c.byType[t] = e
}

// Upcast registers fn to turn version from of event type name into version
// from+1. It panics if name is not registered or from is not older than the
// registered version.
func (c *Codec) Upcast(name string, from int, fn Upcaster) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byName[name]
	if !ok || from < 1 || from >= e.version {
		panic(fmt.Sprintf("eventstore: upcaster %s v%d has no registered target", name, from))
	}
	e.upcasters[from] = fn
}

// Encode turns a registered payload into the type, schema version and data
// of an EventData. It returns ErrUnknownEventType for an unregistered type.
func (c *Codec) Encode(payload any) (name string, version int, data json.RawMessage, err error) {
	t := reflect.TypeOf(payload)
	c.mu.RLock()
	e, ok := c.byType[t]
	c.mu.RUnlock()
	if !ok {
		return "", 0, nil, fmt.Errorf("%w: %v", ErrUnknownEventType, t)
	}
	data, err = json.Marshal(payload)
	if err != nil {
		return "", 0, nil, fmt.Errorf("encode %s: %w", e.name, err)
	}
	return e.name, e.version, data, nil
}

// Decode returns the payload of a recorded event as a value of its
// registered Go type, upcast to the current schema version. Unknown fields
// are an error: an event that does not fit its type is a bug to see, not to
// ignore. Errors wrap ErrUnknownEventType, ErrSchemaVersion or ErrDecode.
func (c *Codec) Decode(ev Event) (any, error) {
	c.mu.RLock()
	e, ok := c.byName[ev.Type]
	c.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownEventType, ev.Type)
	}
	data := ev.Data
	if ev.SchemaVersion > e.version || ev.SchemaVersion < 1 {
		return nil, fmt.Errorf("%w: %s v%d, code knows v%d", ErrSchemaVersion, ev.Type, ev.SchemaVersion, e.version)
	}
	for v := ev.SchemaVersion; v < e.version; v++ {
		up, ok := e.upcasters[v]
		if !ok {
			return nil, fmt.Errorf("%w: %s has no upcaster from v%d", ErrSchemaVersion, ev.Type, v)
		}
		next, err := up(data)
		if err != nil {
			return nil, fmt.Errorf("%w: upcast %s v%d: %v", ErrDecode, ev.Type, v, err) //nolint:errorlint // ErrDecode is the contract; an upcaster's error is detail
		}
		data = next
	}
	ptr := reflect.New(e.goType)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ptr.Interface()); err != nil {
		return nil, fmt.Errorf("%w: %s v%d: %v", ErrDecode, ev.Type, e.version, err) //nolint:errorlint // ErrDecode is the contract; json's error is detail
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: %s: trailing data", ErrDecode, ev.Type)
	}
	return ptr.Elem().Interface(), nil
}
