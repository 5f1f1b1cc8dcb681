// Package openapi holds the machine-readable HTTP contract of API v1 (the
// OpenAPI 3.1 form of API.md) and serves it at GET /openapi.json.
//
// The document is the one place the routes, roles and shapes of the API are
// written down for machines: clients generate code from it, and the router's
// tests compare their routes with Operations so that neither drifts from the
// contract unnoticed. It uses only the standard library, so any edge can mount
// Handler and any test can read Operations.
package openapi

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed openapi.json
var document []byte

// Document returns the OpenAPI document as served, for tools and tests that
// need the raw contract; it is a copy, so changing it changes nothing served.
func Document() []byte { return bytes.Clone(document) }

// RoleAnonymous is the only x-roles entry of an operation anyone may call
// without a bearer token, so callers can tell it from the token roles.
const RoleAnonymous = "anonymous"

// Operation is one method on one path of the contract, in the form a router
// or an authorization test compares itself with.
type Operation struct {
	// Method is the HTTP method in upper case ("GET").
	Method string
	// Path is the path template in OpenAPI form ("/api/v1/orders/{id}"); GinPath converts it.
	Path string
	// OperationID is the operation's unique, stable name.
	OperationID string
	// Roles is the operation's x-roles: ["anonymous"], or the token roles
	// (shopper, admin, analyst) that may call it.
	Roles []string
	// Public reports that the operation needs no bearer token (it may still
	// need another credential, as the payment webhook needs Stripe-Signature).
	Public bool
}

// methods are the operation keys of an OpenAPI path item, in the order
// Operations lists them for one path.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// parsed parses the embedded document once; Operations hands out copies.
var parsed = sync.OnceValues(func() ([]Operation, error) { return parseOperations(document) })

// Operations lists every operation of the document, sorted by path and then
// method, so that a router can be checked against the contract. It returns
// an error if the document is not valid JSON or an operation lacks an
// operationId or x-roles; the embedded document is tested not to.
func Operations() ([]Operation, error) {
	ops, err := parsed()
	if err != nil {
		return nil, err
	}
	out := make([]Operation, len(ops))
	for i, op := range ops {
		op.Roles = slices.Clone(op.Roles)
		out[i] = op
	}
	return out, nil
}

// securityRequirements is an OpenAPI security list: alternatives, each a set
// of schemes that must all be satisfied.
type securityRequirements []map[string][]string

// requiresBearer reports whether every alternative needs bearerAuth.
func (s securityRequirements) requiresBearer() bool {
	if len(s) == 0 {
		return false
	}
	for _, alt := range s {
		if _, ok := alt["bearerAuth"]; !ok {
			return false
		}
	}
	return true
}

// parseOperations reads the operations of an OpenAPI document.
func parseOperations(doc []byte) ([]Operation, error) {
	var d struct {
		Security securityRequirements                  `json:"security"`
		Paths    map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("openapi: parse document: %w", err)
	}
	var ops []Operation
	for path, item := range d.Paths {
		for _, m := range methods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			var o struct {
				OperationID string                `json:"operationId"`
				Roles       []string              `json:"x-roles"`
				Security    *securityRequirements `json:"security"`
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				return nil, fmt.Errorf("openapi: parse %s %s: %w", strings.ToUpper(m), path, err)
			}
			if o.OperationID == "" {
				return nil, fmt.Errorf("openapi: %s %s has no operationId", strings.ToUpper(m), path)
			}
			if len(o.Roles) == 0 {
				return nil, fmt.Errorf("openapi: %s %s has no x-roles", strings.ToUpper(m), path)
			}
			sec := d.Security
			if o.Security != nil {
				sec = *o.Security
			}
			ops = append(ops, Operation{
				Method:      strings.ToUpper(m),
				Path:        path,
				OperationID: o.OperationID,
				Roles:       o.Roles,
				Public:      !sec.requiresBearer(),
			})
		}
	}
	slices.SortFunc(ops, func(a, b Operation) int {
		return cmp.Or(strings.Compare(a.Path, b.Path),
			cmp.Compare(slices.Index(methods, strings.ToLower(a.Method)), slices.Index(methods, strings.ToLower(b.Method))))
	})
	return ops, nil
}

// GinPath turns an OpenAPI path template into gin's form ("/orders/{id}"
// becomes "/orders/:id"), so that registered routes can be compared with
// Operations. Text outside braces is kept as it is.
func GinPath(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for {
		open := strings.IndexByte(p, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(p[open:], '}')
		if end < 0 {
			break
		}
		b.WriteString(p[:open])
		b.WriteByte(':')
		b.WriteString(p[open+1 : open+end])
		p = p[open+end+1:]
	}
	b.WriteString(p)
	return b.String()
}

// etag is the document's strong validator: a hash of its bytes, so it
// changes exactly when the document does.
var etag = func() string {
	sum := sha256.Sum256(document)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()

// ETag returns the strong ETag Handler sends, for clients and tests that
// want to revalidate without a first request.
func ETag() string { return etag }

// docHandler serves the embedded document.
type docHandler struct{}

// Handler returns the http.Handler for GET /openapi.json: the document as
// application/json with a strong ETag, 304 for a matching If-None-Match,
// and a 405 problem for methods other than GET and HEAD.
func Handler() http.Handler { return docHandler{} }

// ServeHTTP answers with the document; http.ServeContent handles HEAD and
// the conditional and range headers.
func (docHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		body, _ := json.Marshal(map[string]any{ // only strings and ints: cannot fail
			"type":     "https://commerce.dev/problems/method_not_allowed",
			"title":    "Method not allowed",
			"status":   http.StatusMethodNotAllowed,
			"detail":   "method not allowed on this resource",
			"instance": r.URL.Path,
		})
		_, _ = w.Write(body)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("ETag", etag)
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "openapi.json", time.Time{}, bytes.NewReader(document))
}
