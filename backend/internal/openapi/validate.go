package openapi

import (
	"bytes"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// docURL names the document inside the schema compiler; $refs such as
// #/components/schemas/User resolve against it.
const docURL = "urn:duckgate:openapi.json"

// Validator checks real responses against the document, for integration
// tests: a handler that answers a shape or a status the document does not
// describe fails the test.
type Validator struct {
	doc      map[string]any
	paths    []pathTemplate
	compiler *jsonschema.Compiler
	mu       sync.Mutex // the compiler is not safe for concurrent use
	compiled map[string]*jsonschema.Schema
}

type pathTemplate struct {
	template string
	segments []string
}

// NewValidator parses an OpenAPI 3.1 document (as Build returns it).
func NewValidator(doc []byte) (*Validator, error) {
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("openapi: parse document: %w", err)
	}
	root, ok := parsed.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi: the document is not a JSON object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(docURL, root); err != nil {
		return nil, fmt.Errorf("openapi: load document: %w", err)
	}
	v := &Validator{doc: root, compiler: c, compiled: map[string]*jsonschema.Schema{}}
	paths, _ := root["paths"].(map[string]any)
	for _, t := range sortedKeys(paths) {
		v.paths = append(v.paths, pathTemplate{template: t, segments: strings.Split(t, "/")})
	}
	return v, nil
}

// ValidateResponse checks that the operation matching method and the concrete
// path (/users/0192…, matched against /users/{id}) documents status with
// contentType, and that a JSON body fits its schema. Bodies of other media
// types (event streams, video) are not inspected.
func (v *Validator) ValidateResponse(method, path string, status int, contentType string, body []byte) error {
	template, ok := v.matchPath(path)
	if !ok {
		return fmt.Errorf("openapi: no documented path matches %s", path)
	}
	op, ok := v.lookup("paths", template, strings.ToLower(method))
	if !ok {
		return fmt.Errorf("openapi: %s %s is not documented", method, template)
	}
	if _, ok := op.(map[string]any); !ok {
		return fmt.Errorf("openapi: %s %s is not an operation object", method, template)
	}
	code := strconv.Itoa(status)
	resp, ok := v.lookup("paths", template, strings.ToLower(method), "responses", code)
	if !ok {
		return fmt.Errorf("openapi: %s %s does not document status %d", method, template, status)
	}
	content, _ := resp.(map[string]any)["content"].(map[string]any)
	if len(content) == 0 {
		if len(body) > 0 {
			return fmt.Errorf("openapi: %s %s %d documents no body, got %d bytes", method, template, status, len(body))
		}
		return nil
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("openapi: %s %s %d: bad Content-Type %q: %w", method, template, status, contentType, err)
	}
	if _, ok := content[mediaType]; !ok {
		// A range such as image/* covers its subtypes (OpenAPI 3.1, 4.8.14).
		kind, _, _ := strings.Cut(mediaType, "/")
		if _, ok := content[kind+"/*"]; !ok {
			return fmt.Errorf("openapi: %s %s %d documents %v, not %s", method, template, status, sortedKeys(content), mediaType)
		}
		return nil
	}
	if mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json") {
		return nil
	}
	sch, err := v.schema("paths", template, strings.ToLower(method), "responses", code, "content", mediaType, "schema")
	if err != nil {
		return err
	}
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("openapi: %s %s %d: body is not JSON: %w", method, template, status, err)
	}
	if err := sch.Validate(instance); err != nil {
		return fmt.Errorf("openapi: %s %s %d: body does not match the document: %w", method, template, status, err)
	}
	return nil
}

// ValidateJSON checks a JSON value against a component schema by name, for
// tests of bodies that are not responses (stream events, request bodies).
func (v *Validator) ValidateJSON(component string, body []byte) error {
	sch, err := v.schema("components", "schemas", component)
	if err != nil {
		return err
	}
	instance, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("openapi: body is not JSON: %w", err)
	}
	if err := sch.Validate(instance); err != nil {
		return fmt.Errorf("openapi: body does not match %s: %w", component, err)
	}
	return nil
}

// matchPath finds the template a concrete path belongs to. A literal segment
// beats a parameter, so /users/me wins over /users/{id}.
func (v *Validator) matchPath(path string) (string, bool) {
	if u, err := url.Parse(path); err == nil {
		path = u.EscapedPath() // an escaped "/" (%2F) stays inside its segment
	}
	segs := strings.Split(path, "/")
	best, bestLiterals := "", -1
	for _, t := range v.paths {
		if literals, ok := t.match(segs); ok && literals > bestLiterals {
			best, bestLiterals = t.template, literals
		}
	}
	return best, bestLiterals >= 0
}

// match reports whether the path segments fit the template and how many
// literal segments matched.
func (t pathTemplate) match(segs []string) (literals int, ok bool) {
	if len(t.segments) != len(segs) {
		return 0, false
	}
	for i, s := range t.segments {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			if segs[i] == "" {
				return 0, false
			}
		case s == segs[i]:
			literals++
		default:
			return 0, false
		}
	}
	return literals, true
}

// lookup walks the parsed document.
func (v *Validator) lookup(keys ...string) (any, bool) {
	var cur any = v.doc
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// schema compiles (once) the schema at the JSON pointer made of keys.
func (v *Validator) schema(keys ...string) (*jsonschema.Schema, error) {
	if _, ok := v.lookup(keys...); !ok {
		return nil, fmt.Errorf("openapi: the document has nothing at %s", strings.Join(keys, " → "))
	}
	var ptr strings.Builder
	for _, k := range keys {
		ptr.WriteString("/")
		ptr.WriteString(escapePointer(k))
	}
	loc := docURL + "#" + ptr.String()
	v.mu.Lock()
	defer v.mu.Unlock()
	if sch, ok := v.compiled[loc]; ok {
		return sch, nil
	}
	sch, err := v.compiler.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("openapi: compile schema %s: %w", ptr.String(), err)
	}
	v.compiled[loc] = sch
	return sch, nil
}

// escapePointer escapes a JSON pointer token (RFC 6901) and then for use in
// a URI fragment.
func escapePointer(token string) string {
	token = strings.ReplaceAll(token, "~", "~0")
	token = strings.ReplaceAll(token, "/", "~1")
	return url.PathEscape(token)
}
