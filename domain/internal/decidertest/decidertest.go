// Package decidertest runs given/when/then tables and decoder fuzz checks
// against the domain's deciders, so every aggregate's tests read the same way.
// It is test support: only _test files import it.
package decidertest

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Case is one given/when/then row: fold Given with Evolve, pass When to
// Decide, and expect exactly the events Then, or an error matching Err.
type Case[S any] struct {
	Name  string
	Given []any
	When  any
	Then  []any
	Err   error
}

// Run runs every case as a parallel subtest of t. A case with Err set passes
// only if Decide returns an error matching it with errors.Is and no events;
// otherwise it passes only if Decide returns no error and events deeply
// equal to Then (nil and empty are the same). Accepted events are folded into
// the state afterwards, so Evolve sees every shape Decide produces.
func Run[S any](t *testing.T, evolve func(S, any) S, decide func(S, any) ([]any, error), cases []Case[S]) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.Name] {
			t.Fatalf("duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			var s S
			for _, e := range c.Given {
				s = evolve(s, e)
			}
			got, err := decide(s, c.When)
			if c.Err != nil {
				if !errors.Is(err, c.Err) {
					t.Fatalf("err = %v, want %v", err, c.Err)
				}
				if got != nil {
					t.Fatalf("events = %#v alongside error %v", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(got) != 0 || len(c.Then) != 0 {
				if !reflect.DeepEqual(got, c.Then) {
					t.Fatalf("events:\n got  %#v\n want %#v", got, c.Then)
				}
			}
			for _, e := range got {
				s = evolve(s, e)
			}
		})
	}
}

// Recorder is an event registrar that remembers what was registered and
// passes every registration on to Next (an *eventstore.Codec in tests).
type Recorder struct {
	Next interface {
		RegisterType(name string, version int, sample any)
	}
	Names    []string
	Versions map[string]int
	Samples  map[string]any
}

// RegisterType records name, version and sample, then forwards them to Next.
func (r *Recorder) RegisterType(name string, version int, sample any) {
	if r.Versions == nil {
		r.Versions = map[string]int{}
		r.Samples = map[string]any{}
	}
	r.Names = append(r.Names, name)
	r.Versions[name] = version
	r.Samples[name] = sample
	if r.Next != nil {
		r.Next.RegisterType(name, version, sample)
	}
}

// CheckRegistry fails t unless every registered sample names itself with
// EventType(), has a positive schema version, and wantCount types were
// registered (so a new event cannot be left out of RegisterEvents silently).
func CheckRegistry(t *testing.T, r *Recorder, wantCount int) {
	t.Helper()
	if len(r.Names) != wantCount {
		t.Fatalf("registered %d event types, want %d: %v", len(r.Names), wantCount, r.Names)
	}
	for _, name := range r.Names {
		s, ok := r.Samples[name].(interface{ EventType() string })
		if !ok {
			t.Fatalf("%s: sample %T has no EventType method", name, r.Samples[name])
		}
		if s.EventType() != name {
			t.Fatalf("%T.EventType() = %q, registered as %q", s, s.EventType(), name)
		}
		if r.Versions[name] < 1 {
			t.Fatalf("%s: schema version %d", name, r.Versions[name])
		}
	}
}

// RoundTrip decodes data as every event type in names; whatever decodes must
// encode and decode again to a deeply equal value, and encoding it twice must
// give the same bytes. Decoding errors are fine; panics fail the fuzz run.
func RoundTrip(t *testing.T, names []string, data []byte,
	decode func(name string, data json.RawMessage) (any, error),
	encode func(payload any) (string, json.RawMessage, error),
) {
	t.Helper()
	for _, name := range names {
		v, err := decode(name, data)
		if err != nil {
			continue
		}
		gotName, enc, err := encode(v)
		if err != nil {
			t.Fatalf("%s: decoded %#v does not encode: %v", name, v, err)
		}
		if gotName != name {
			t.Fatalf("%s: decoded value encodes as %s", name, gotName)
		}
		v2, err := decode(name, enc)
		if err != nil {
			t.Fatalf("%s: re-encoded %s does not decode: %v", name, enc, err)
		}
		if !reflect.DeepEqual(v, v2) {
			t.Fatalf("%s: round trip changed the value:\n first  %#v\n second %#v", name, v, v2)
		}
		_, enc2, err := encode(v2)
		if err != nil || string(enc) != string(enc2) {
			t.Fatalf("%s: encoding is not stable: %s vs %s (%v)", name, enc, enc2, err)
		}
	}
}

// CheckSeeds fails t unless every seed file named valid_<event> in dir (a
// "go test fuzz v1" file holding one []byte) decodes as the registered event
// whose name, or name after the namespace, reads <event> with dots as
// underscores, and unless every registered event has such a seed. It keeps
// the committed corpus honest: a seed that stopped decoding would only make
// the fuzzer weaker, silently.
func CheckSeeds(t *testing.T, dir string, names []string, decode func(name string, data json.RawMessage) (any, error)) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, e := range entries {
		event, ok := strings.CutPrefix(e.Name(), "valid_")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s: not a go test fuzz v1 file with one []byte", e.Name())
		}
		data, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		found := false
		for _, name := range names {
			_, short, _ := strings.Cut(name, ".")
			if strings.ReplaceAll(name, ".", "_") != event && short != event {
				continue
			}
			found, covered[name] = true, true
			if _, err := decode(name, json.RawMessage(data)); err != nil {
				t.Errorf("%s does not decode as %s: %v", e.Name(), name, err)
			}
		}
		if !found {
			t.Errorf("%s matches no registered event", e.Name())
		}
	}
	for _, name := range names {
		if !covered[name] {
			t.Errorf("no valid_ seed for %s in %s", name, dir)
		}
	}
}
