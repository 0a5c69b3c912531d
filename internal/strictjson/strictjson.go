// Package strictjson finds what encoding/json takes without a word in a
// JSON text that decoded without error: an object key given twice (the
// last one would win) and a key that names a struct field only with other
// capitals (encoding/json matches field names case-insensitively). The
// API's contract refuses unknown fields, and both are ways for a client's
// mistake to be stored as something it did not send.
package strictjson

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Check walks data, one JSON value that encoding/json has decoded into a
// value of type t (nil when the target is not known: then only repeated
// keys are looked for), and reports the first repeated key or the first
// key that matches a field of a struct in t only without regard to case.
func Check(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber() // numbers are not looked at: no need to parse them
	return check(dec, t, "")
}

func check(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	t = deref(t)
	switch d {
	case '{':
		var fields *fieldSet
		if t != nil && t.Kind() == reflect.Struct {
			fields = structFields(t)
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			name := join(path, key)
			if seen[key] {
				return fmt.Errorf("key %q appears more than once in the same object", name)
			}
			seen[key] = true
			var child reflect.Type
			switch {
			case t == nil:
			case t.Kind() == reflect.Map:
				child = t.Elem()
			case fields != nil:
				if typ, exact := fields.exact[key]; exact {
					child = typ
				} else if want, ok := fields.folded[strings.ToLower(key)]; ok {
					return fmt.Errorf("field %q is not known (names are case-sensitive: %q)", name, join(path, want))
				}
			}
			if err := check(dec, child, name); err != nil {
				return err
			}
		}
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := check(dec, elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		return errors.New("unexpected " + d.String())
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// deref is t without pointers, or nil when t reads its JSON itself (an
// Unmarshaler: its keys are its own business) or is an interface.
func deref(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) ||
			t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Interface:
			return nil
		default:
			return t
		}
	}
	return nil
}

// fieldSet is a struct's fields as JSON names them: exact maps each name
// to its type, folded each lower-cased name to the name.
type fieldSet struct {
	exact  map[string]reflect.Type
	folded map[string]string
}

var fieldCache sync.Map // reflect.Type -> *fieldSet

func structFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{exact: map[string]reflect.Type{}, folded: map[string]string{}}
	for _, sf := range reflect.VisibleFields(t) {
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			if d := deref(sf.Type); d != nil && d.Kind() == reflect.Struct {
				continue // its fields are promoted and listed on their own
			}
		}
		if name == "" {
			name = sf.Name
		}
		fs.exact[name] = sf.Type
		fs.folded[strings.ToLower(name)] = name
	}
	fieldCache.Store(t, fs)
	return fs
}
