package openapi

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// schema is one JSON Schema (2020-12, the dialect of OpenAPI 3.1) as it will
// be marshalled into the document.
type schema = map[string]any

// reflector turns Go types into JSON Schemas the way encoding/json sees them.
// Named struct types become components (components/schemas/Name) referenced
// by $ref, so every type appears once in the document however often it is used.
type reflector struct {
	components map[string]schema
	hints      map[string]schema // "Type.json_field" → extra keywords (enum, format, …)
}

func newReflector(hints map[string]schema) *reflector {
	return &reflector{components: map[string]schema{}, hints: hints}
}

var timeType = reflect.TypeFor[time.Time]()

// ref returns the schema of the Go value v's type (a zero value is enough).
func (r *reflector) ref(v any) schema {
	return r.schemaOf(reflect.TypeOf(v))
}

func (r *reflector) schemaOf(t reflect.Type) schema {
	switch {
	case t == timeType:
		return schema{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		return nullable(r.schemaOf(t.Elem()))
	case t.Kind() == reflect.Struct && t.Name() != "":
		return r.component(t)
	case t.Kind() == reflect.Struct:
		return r.object(t)
	}
	return r.simple(t)
}

func (r *reflector) simple(t reflect.Type) schema {
	switch t.Kind() {
	case reflect.String:
		return schema{"type": "string"}
	case reflect.Bool:
		return schema{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return schema{"type": "integer"}
	case reflect.Float32:
		return schema{"type": "number", "format": "float"}
	case reflect.Float64:
		// Money (USD costs, budgets) and latencies: full precision.
		return schema{"type": "number", "format": "double"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 { // encoding/json writes []byte as base64
			return schema{"type": "string", "contentEncoding": "base64"}
		}
		// A nil slice encodes as null; the API promises arrays, so the
		// schema says array and the validator catches a forgotten make().
		return schema{"type": "array", "items": r.schemaOf(t.Elem())}
	case reflect.Map:
		return schema{"type": "object", "additionalProperties": r.schemaOf(t.Elem())}
	case reflect.Interface:
		return schema{} // any JSON value
	}
	panic(fmt.Sprintf("openapi: no JSON Schema for Go type %s", t))
}

// component registers a named struct once and returns a $ref to it.
func (r *reflector) component(t reflect.Type) schema {
	name := t.Name()
	ref := schema{"$ref": "#/components/schemas/" + name}
	if _, done := r.components[name]; done {
		return ref
	}
	r.components[name] = schema{} // placeholder: breaks recursion
	r.components[name] = r.object(t)
	return ref
}

// object is the schema of a struct: properties from json tags, required for
// the fields encoding/json always writes (no omitempty).
func (r *reflector) object(t reflect.Type) schema {
	props := schema{}
	var required []string
	for _, f := range jsonFields(t) {
		s := r.schemaOf(f.field.Type)
		if extra, ok := r.hints[t.Name()+"."+f.name]; ok {
			s = withHints(s, extra)
		}
		props[f.name] = s
		if !f.omitempty {
			required = append(required, f.name)
		}
	}
	obj := schema{"type": "object", "properties": props}
	if len(required) > 0 {
		obj["required"] = required
	}
	return obj
}

// withHints adds keywords to a schema. Under a $ref sibling keywords are
// allowed in 2020-12, but an enum on a nullable type must keep null, so the
// hint replaces the schema's keywords rather than wrapping it.
func withHints(s, extra schema) schema {
	out := schema{}
	for k, v := range s {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func nullable(s schema) schema {
	if typ, ok := s["type"].(string); ok && len(s) <= 2 {
		out := withHints(s, nil)
		out["type"] = []string{typ, "null"}
		return out
	}
	return schema{"anyOf": []schema{s, {"type": "null"}}}
}

type jsonField struct {
	name      string
	omitempty bool
	field     reflect.StructField
}

// jsonFields lists the fields encoding/json writes for t, in order, with the
// fields of embedded structs flattened in (a field of the outer struct wins
// over an embedded one of the same name, as in encoding/json).
func jsonFields(t reflect.Type) []jsonField {
	var own, promoted []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			promoted = append(promoted, jsonFields(ft)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		own = append(own, jsonField{name: name, omitempty: hasOption(opts, "omitempty") || hasOption(opts, "omitzero"), field: f})
	}
	seen := map[string]bool{}
	for _, f := range own {
		seen[f.name] = true
	}
	for _, f := range promoted {
		if !seen[f.name] {
			own = append(own, f)
			seen[f.name] = true
		}
	}
	return own
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}
