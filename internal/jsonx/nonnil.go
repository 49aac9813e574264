package jsonx

import (
	"encoding"
	"encoding/json"
	"reflect"
)

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// NonNil returns a deep copy of v in which every nil slice is an empty slice and every nil map
// an empty map, so that encoding/json writes [] and {} instead of null: a reader then gets a
// list wherever the schema has a list, and null keeps one meaning (an undefined number, Float).
// Pointers, interfaces and structs are copied through; unexported struct fields are dropped
// (encoding/json ignores them too), except in values that encode themselves (json.Marshaler,
// encoding.TextMarshaler: time.Time, say), which are kept as they are. v itself is not changed.
func NonNil(v any) any {
	if v == nil {
		return nil
	}
	return nonNil(reflect.ValueOf(v)).Interface()
}

func nonNil(v reflect.Value) reflect.Value {
	if t := v.Type(); v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface &&
		(t.Implements(marshalerType) || t.Implements(textMarshalerType) ||
			reflect.PointerTo(t).Implements(marshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)) {
		return v
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(nonNil(v.Elem()))
		return p
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(nonNil(v.Elem()))
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		for i := 0; i < v.NumField(); i++ {
			if f := out.Field(i); f.CanSet() {
				f.Set(nonNil(v.Field(i)))
			}
		}
		return out
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // []byte encodes as a base64 string
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(nonNil(v.Index(i)))
		}
		return out
	case reflect.Map:
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out.SetMapIndex(iter.Key(), nonNil(iter.Value()))
		}
		return out
	case reflect.Array:
		out := reflect.New(v.Type()).Elem()
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(nonNil(v.Index(i)))
		}
		return out
	}
	return v
}
