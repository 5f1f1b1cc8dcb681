// Package openapitest checks live HTTP exchanges against the embedded
// openapi.json, so that a test whose request or answer drifts from the
// contract fails where it happens instead of in a client later.
//
// Every HTTP test helper routes its traffic through it: real clients with
// Transport or Client, programs with their own client through Proxy,
// in-process handlers with Handler, and gin engines a test mounts routes on
// with Middleware; routes a test adds beside the API are left out with
// IgnorePrefix. Each exchange is checked with kin-openapi's openapi3filter:
//
//   - the request's method and path are a documented operation (or the
//     server answers an undocumented one with 404 or 405);
//   - its parameters and body match the operation (a body where the
//     operation declares none is refused);
//   - the answer's status is documented for the operation, 304 included;
//   - a JSON or problem+json body matches the documented schema, and a body
//     is only sent where the document declares one;
//   - documented answer headers (X-Event-Position, Retry-After) are present
//     and well-formed.
//
// A request the document refuses may be answered with a documented 4xx: that
// is how tests prove the server refuses bad input. A request the document
// refuses that the server accepts (2xx) is a drift. Bearer tokens and the
// Stripe signature are not checked (the server's tests do that), only that
// the operation exists. An event stream (text/event-stream) is checked up to
// its headers: status and content type; its frames are never read, because
// the stream stays open as long as the client wants. The payment webhook's
// body is checked as the JSON it must be (StripeEvent); a raw body the
// server must refuse is caught by the 4xx rule above.
package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/commerce-engine/commerce/openapi"
)

// KnownViolation is a required property of a schema that the server does
// not send yet, tolerated until the issue named beside it lands.
type KnownViolation struct {
	// Schema is the name of the schema under components/schemas.
	Schema string
	// Property is the required property the server omits.
	Property string
	// Issue is the issue that makes the server send it.
	Issue int
}

// KnownViolations are the only drifts the validator tolerates, each with
// the issue that removes it. The list is public so that a reader sees at a
// glance what the contract promises and the server does not keep yet.
var KnownViolations = []KnownViolation{
	// Issue 15 (a real order) records the product's SKU and name on each
	// order line; until then the order answers carry neither.
	{Schema: "OrderLine", Property: "sku", Issue: 15},
	{Schema: "OrderLine", Property: "name", Issue: 15},
}

// contract is the parsed document, with the known violations relaxed,
// and its router; loaded once for every test of a binary.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

// uuidPattern is the uuid format: any RFC 9562 version, in lower or upper
// case, as the server writes ids with google/uuid.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// emailPattern is the email format: it catches only what is plainly not an
// address, as kin-openapi's optional email format does.
var emailPattern = regexp.MustCompile(openapi3.FormatOfStringForEmail)

// formats are the string formats the document uses beyond the ones
// kin-openapi asserts by default (date, date-time, byte).
var formats = []openapi3.SchemaValidationOption{
	openapi3.WithStringFormatValidator("uuid", openapi3.NewCallbackValidator(func(s string) error {
		if !uuidPattern.MatchString(s) {
			return fmt.Errorf("not a uuid: %q", s)
		}
		return nil
	})),
	openapi3.WithStringFormatValidator("email", openapi3.NewCallbackValidator(func(s string) error {
		if !emailPattern.MatchString(s) {
			return fmt.Errorf("not an email address: %q", s)
		}
		return nil
	})),
}

// load parses the embedded document, relaxes the known violations and
// builds the router.
var load = sync.OnceValues(func() (*contract, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Document())
	if err != nil {
		return nil, fmt.Errorf("openapitest: load openapi.json: %w", err)
	}
	for _, k := range KnownViolations {
		ref := doc.Components.Schemas[k.Schema]
		if ref == nil || ref.Value == nil || !slices.Contains(ref.Value.Required, k.Property) {
			return nil, fmt.Errorf("openapitest: known violation %s.%s (issue %d) is not a required property of the document", k.Schema, k.Property, k.Issue)
		}
		ref.Value.Required = slices.DeleteFunc(slices.Clone(ref.Value.Required), func(p string) bool { return p == k.Property })
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapitest: route openapi.json: %w", err)
	}
	return &contract{doc: doc, router: router}, nil
})

// Exchange is one request and its answer, as a client or handler saw it.
type Exchange struct {
	// Request is the request as sent; its Body is not read (RequestBody is).
	Request *http.Request
	// RequestBody is the request's body, nil for none.
	RequestBody []byte
	// Status is the answer's status code.
	Status int
	// Header is the answer's header.
	Header http.Header
	// Body is the answer's body; ignored for an event stream.
	Body []byte
}

// isStream reports whether the answer is an event stream or a protocol
// switch, whose body is never read.
func (x Exchange) isStream() bool {
	return x.Status == http.StatusSwitchingProtocols || mediaType(x.Header.Get("Content-Type")) == "text/event-stream"
}

// mediaType is the media type of a Content-Type value, without parameters.
func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(ct))
	}
	return mt
}

// Check validates one exchange against the contract under ctx (the
// request's context, usually); it returns nil when both the request and the
// answer are as documented, and an error naming every violation otherwise
// (or the document's own error if it does not load).
func Check(ctx context.Context, x Exchange) error {
	c, err := load()
	if err != nil {
		return err
	}
	op := x.Request.Method + " " + x.Request.URL.Path
	route, params, err := c.router.FindRoute(x.Request)
	if err != nil {
		// The server may refuse what the contract does not have; it may
		// not serve it.
		var re *routers.RouteError
		if !errors.As(err, &re) {
			return fmt.Errorf("%s: %w", op, err)
		}
		if x.Status == http.StatusNotFound || x.Status == http.StatusMethodNotAllowed {
			return nil
		}
		return fmt.Errorf("%s: not a documented operation (%s), answered %d", op, re.Reason, x.Status)
	}
	op = route.Method + " " + route.Path
	opts := &openapi3filter.Options{
		MultiError:                        true,
		RejectWhenRequestBodyNotSpecified: true,
		IncludeResponseStatus:             true,
		AuthenticationFunc:                func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
		SchemaValidationOptions:           formats,
	}
	// kin-openapi reads the body it validates: give it a copy.
	req := x.Request.Clone(ctx)
	req.Body, req.ContentLength, req.GetBody = http.NoBody, int64(len(x.RequestBody)), nil
	if len(x.RequestBody) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(x.RequestBody))
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(ctx, in)

	// The status first: kin-openapi lets 304 and redirects through.
	resp := route.Operation.Responses.Status(x.Status)
	if resp == nil {
		resp = route.Operation.Responses.Default()
	}
	if resp == nil || resp.Value == nil {
		return fmt.Errorf("%s: answered %d, which the document does not list for it", op, x.Status)
	}
	if reqErr != nil && (x.Status < 400 || x.Status >= 500) {
		return fmt.Errorf("%s: answered %d to a request the document refuses: %w", op, x.Status, reqErr)
	}
	content := resp.Value.Content
	ct := x.Header.Get("Content-Type")
	if len(content) == 0 {
		if len(x.Body) > 0 && !x.isStream() {
			return fmt.Errorf("%s: answered %d with a %q body where the document declares none: %s", op, x.Status, ct, clip(x.Body))
		}
	} else if content.Get(ct) == nil {
		return fmt.Errorf("%s: answered %d as %q, which the document does not declare for it", op, x.Status, ct)
	}
	ropts := *opts
	ropts.ExcludeResponseBody = x.isStream()
	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: &ropts},
		Status:                 x.Status,
		Header:                 x.Header,
		Options:                &ropts,
	}
	rin.SetBodyBytes(x.Body)
	if err := openapi3filter.ValidateResponse(ctx, rin); err != nil {
		return fmt.Errorf("%s: answer %d does not match the document: %w\nbody: %s", op, x.Status, err, clip(x.Body))
	}
	return nil
}

// clip shortens a body for an error message.
func clip(b []byte) string {
	const most = 2000
	if len(b) > most {
		return string(b[:most]) + "..."
	}
	return string(b)
}
