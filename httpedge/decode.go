package httpedge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/commerce-engine/commerce/apperr"
)

// DecodeJSON reads the request body (through the body limit) into dst,
// which must be a non-nil pointer. It rejects an empty body, malformed
// JSON, unknown fields, values of the wrong type and data after the JSON
// value, each as an *apperr.Error of code invalid naming the field where it
// is known ("quantity: must be a number"); a body over the limit is
// apperr too_large. An *apperr.Error returned by a type's UnmarshalJSON is
// passed through. A dst that is not a pointer is an internal error.
func DecodeJSON(c *gin.Context, dst any) error {
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		return errEmptyBody
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		if isTooLarge(err) {
			return errTooLarge(err)
		}
		return apperr.Invalid("the request body could not be read", apperr.Field("body", "was cut off"))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	// Exactly one JSON value: anything but EOF after it is refused.
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		// encoding/json matches names regardless of case, so "Quantity"
		// or "deltA" would pass as known: refuse every name that is not
		// spelled as the contract spells it.
		if name, ok := misspelled(body, reflect.TypeOf(dst)); ok {
			return apperr.Invalid("the request body has an unknown field",
				apperr.Field(name, "is not a known field"))
		}
		return nil
	case isTooLarge(err):
		return errTooLarge(err)
	default:
		return apperr.Invalid("the request body has data after its JSON value",
			apperr.Field("body", "must hold exactly one JSON value"))
	}
}

var errEmptyBody = apperr.Invalid("the request body is empty",
	apperr.Field("body", "must be a JSON object"))

func isTooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

func errTooLarge(err error) *apperr.Error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return apperr.Wrap(apperr.CodeTooLarge,
			fmt.Sprintf("the request body is larger than %d bytes", mb.Limit), err)
	}
	return apperr.Wrap(apperr.CodeTooLarge, "the request body is too large", err)
}

// decodeError turns an encoding/json error into an *apperr.Error a client
// can act on, without echoing Go type names.
func decodeError(err error) error {
	var (
		syntax    *json.SyntaxError
		typ       *json.UnmarshalTypeError
		invalid   *json.InvalidUnmarshalError
		appErr    *apperr.Error
		maxReader *http.MaxBytesError
	)
	switch {
	case errors.As(err, &maxReader):
		return errTooLarge(err)
	case errors.Is(err, io.EOF):
		return errEmptyBody
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Invalid("the request body is truncated JSON",
			apperr.Field("body", "ends before its JSON value does"))
	case errors.As(err, &syntax):
		return apperr.Invalid("the request body is not valid JSON",
			apperr.Field("body", fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		msg := "must be " + jsonKind(typ.Type)
		if msg == "must be an integer" && !strings.HasPrefix(typ.Value, "number") {
			msg = "must be a number" // a string, bool, ... where a count belongs
		}
		return apperr.Invalid("a field has the wrong type", apperr.Field(field, msg))
	case errors.As(err, &invalid):
		return apperr.Internal(err)
	case errors.As(err, &appErr):
		return appErr
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return apperr.Invalid("the request body has an unknown field",
			apperr.Field(strings.Trim(name, `"`), "is not a known field"))
	}
	return apperr.Invalid("the request body is not valid", apperr.Field("body", err.Error()))
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a valid value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a valid value"
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// misspelled returns the first object member of raw, decoded as t, whose
// name matches one of t's fields only when case is ignored (or not at
// all). Types with their own UnmarshalJSON are left to it.
func misspelled(raw []byte, t reflect.Type) (string, bool) {
	for t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerType) {
			return "", false
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return "", false
	}
	switch t.Kind() {
	case reflect.Struct:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return "", false // null, or not an object: the decoder judged it
		}
		fields := jsonFields(t)
		for name, v := range members {
			ft, ok := fields[name]
			if !ok {
				return name, true
			}
			if inner, bad := misspelled(v, ft); bad {
				return name + "." + inner, true
			}
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return "", false
		}
		for i, v := range items {
			if inner, bad := misspelled(v, t.Elem()); bad {
				return fmt.Sprintf("%d.%s", i, inner), true
			}
		}
	case reflect.Map:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return "", false
		}
		for k, v := range members {
			if inner, bad := misspelled(v, t.Elem()); bad {
				return k + "." + inner, true
			}
		}
	}
	return "", false
}

// jsonFields maps the exact JSON names of t's fields, embedded ones
// included, to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || len(f.Index) > 1 && !promoted(t, f) {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			continue // its fields are listed as promoted ones
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// promoted reports whether a field reached through embedding is one
// encoding/json decodes: every struct on its path is embedded untagged.
func promoted(t reflect.Type, f reflect.StructField) bool {
	cur := t
	for _, i := range f.Index[:len(f.Index)-1] {
		sf := cur.Field(i)
		if !sf.Anonymous || sf.Tag.Get("json") != "" {
			return false
		}
		cur = sf.Type
		for cur.Kind() == reflect.Pointer {
			cur = cur.Elem()
		}
	}
	return true
}
