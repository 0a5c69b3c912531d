// Package strictjson finds what encoding/json takes without a word in a
// JSON text that decoded without error: an object key given twice (the
// last one would win) and a key that names a struct field only with other
// capitals (encoding/json matches field names case-insensitively). The
// API's contract refuses unknown fields, and both are ways for a client's
// mistake to be stored as something it did not send.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Check walks data, one JSON value that encoding/json has decoded into a
// value of type t (nil when the target is not known: then only repeated
// keys are looked for), and reports the first repeated key or the first
// key that matches a field of a struct in t only without regard to case.
// It scans the bytes once, without building tokens: it runs on every
// request body, after the decoder has checked the syntax.
func Check(data []byte, t reflect.Type) error {
	s := scanner{data: data}
	return s.value(t)
}

type scanner struct {
	data []byte
	i    int
	// path is where the scan is, for messages only: keys (slices of data,
	// or unquoted copies) and array indexes (key nil).
	path []step
}

type step struct {
	key   []byte
	index int
}

var errTruncated = errors.New("unexpected end of JSON")

func (s *scanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) value(t reflect.Type) error {
	s.ws()
	if s.i >= len(s.data) {
		return errTruncated
	}
	switch s.data[s.i] {
	case '{':
		return s.object(deref(t))
	case '[':
		return s.array(deref(t))
	case '"':
		_, err := s.str()
		return err
	}
	for s.i < len(s.data) { // a number, true, false or null
		switch s.data[s.i] {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return nil
		}
		s.i++
	}
	return nil
}

// str reads a string at s.i and returns its raw bytes between the quotes.
func (s *scanner) str() ([]byte, error) {
	start := s.i + 1
	for s.i++; s.i < len(s.data); s.i++ {
		switch s.data[s.i] {
		case '\\':
			if err := s.surrogates(); err != nil {
				return nil, err
			}
			s.i++
		case '"':
			s.i++
			return s.data[start : s.i-1], nil
		}
	}
	return nil, errTruncated
}

// surrogates checks the escape at s.i: a \uXXXX escape of a UTF-16
// surrogate must be the high half of a pair, followed by the low half (it
// then moves s.i to the pair's last digit). The decoder reads a lone half
// as U+FFFD, so that "\ud800" and "\udbff" would be the same id.
func (s *scanner) surrogates() error {
	code := func(at int) (rune, bool) {
		if at+6 > len(s.data) || s.data[at] != '\\' || s.data[at+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(s.data[at+2:at+6]), 16, 16)
		return rune(v), err == nil
	}
	r, ok := code(s.i)
	if !ok || !utf16.IsSurrogate(r) {
		return nil
	}
	if low, ok := code(s.i + 6); ok && r < 0xdc00 && low >= 0xdc00 && low <= 0xdfff {
		s.i += 10 // the loop's step then passes the pair
		return nil
	}
	where := s.where()
	if where == "" {
		where = "the body"
	}
	return fmt.Errorf("a string in %q holds half of a UTF-16 surrogate pair (\\u%04x) alone, which is no character", where, r)
}

// smallObject is how many keys an object's repeats are looked for among
// by comparing each with the others; past it, with a map.
const smallObject = 16

func (s *scanner) object(t reflect.Type) error {
	var fields *fieldSet
	if t != nil && t.Kind() == reflect.Struct {
		fields = structFields(t)
	}
	var small [smallObject][]byte
	keys := small[:0]
	var many map[string]bool
	s.i++ // {
	for {
		s.ws()
		if s.i >= len(s.data) {
			return errTruncated
		}
		if s.data[s.i] == '}' {
			s.i++
			return nil
		}
		if s.data[s.i] == ',' {
			s.i++
			continue
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		// Escapes, and bytes that are not UTF-8 (the decoder reads each as
		// U+FFFD): compare what the key means.
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			var k string
			if err := json.Unmarshal(s.data[s.i-len(key)-2:s.i], &k); err != nil {
				return err
			}
			key = []byte(k)
		}
		s.path = append(s.path, step{key: key})
		if many == nil && len(keys) == smallObject {
			many = make(map[string]bool, 2*smallObject)
			for _, k := range keys {
				many[string(k)] = true
			}
		}
		repeated := false
		if many != nil {
			repeated = many[string(key)]
			many[string(key)] = true
		} else {
			for _, k := range keys {
				if bytes.Equal(k, key) {
					repeated = true
					break
				}
			}
			keys = append(keys, key)
		}
		if repeated {
			return fmt.Errorf("key %q appears more than once in the same object", s.where())
		}
		var child reflect.Type
		switch {
		case t == nil:
		case t.Kind() == reflect.Map:
			child = t.Elem()
		case fields != nil:
			if typ, exact := fields.exact[string(key)]; exact {
				child = typ
			} else if want, ok := fields.folded[fold(key)]; ok {
				got := s.where()
				s.path[len(s.path)-1].key = []byte(want)
				return fmt.Errorf("field %q is not known (names are case-sensitive: %q)", got, s.where())
			}
		}
		s.ws()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return errTruncated
		}
		s.i++
		if err := s.value(child); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
	}
}

func (s *scanner) array(t reflect.Type) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	s.i++ // [
	for n := 0; ; {
		s.ws()
		if s.i >= len(s.data) {
			return errTruncated
		}
		switch s.data[s.i] {
		case ']':
			s.i++
			return nil
		case ',':
			s.i++
			continue
		}
		s.path = append(s.path, step{index: n})
		if err := s.value(elem); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		n++
	}
}

// where is the path of the scan, as the messages name it: a.b[2].c.
func (s *scanner) where() string {
	var b strings.Builder
	for _, st := range s.path {
		if st.key == nil {
			fmt.Fprintf(&b, "[%d]", st.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.Write(st.key)
	}
	return b.String()
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
// to its type, folded each name's fold to the name.
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
		fs.folded[fold([]byte(name))] = name
	}
	fieldCache.Store(t, fs)
	return fs
}

// fold maps two names to the same string exactly when encoding/json
// takes one for the other (its match is bytes.EqualFold's, which is wider
// than lower-casing: "ſ" is an "s", "K" (Kelvin) a "k").
func fold(name []byte) string {
	var b strings.Builder
	for _, r := range string(name) {
		b.WriteRune(unicode.ToUpper(unicode.ToLower(r)))
	}
	return b.String()
}
