package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// kind is the parsing rule of a setting.
type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
	kindInt64
	kindFloat64
	kindDuration
	kindStrings
	kindText
)

// kindOf reports how values of t are parsed, and false when t is not a
// supported setting type.
func kindOf(t reflect.Type) (kind, bool) {
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return kindText, true
	}
	if t == reflect.TypeFor[time.Duration]() {
		return kindDuration, true
	}
	switch t.Kind() {
	case reflect.String:
		return kindString, true
	case reflect.Bool:
		return kindBool, true
	case reflect.Int:
		return kindInt, true
	case reflect.Int64:
		return kindInt64, true
	case reflect.Float64:
		return kindFloat64, true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return kindStrings, true
		}
	}
	return 0, false
}

// valueError says why a raw value does not parse. Its message never contains
// the value itself, so that it can describe secrets; describe adds the value
// for settings that are not secret.
type valueError struct {
	what   string // "a duration (e.g. 10m)", "an integer", …
	detail string // extra explanation that does not repeat the value
	cause  error  // from a TextUnmarshaler; may quote the value
}

func (e *valueError) Error() string { return e.describe("value", false) }

// describe renders the error; subject is the quoted value or the word
// "value" for secrets.
func (e *valueError) describe(subject string, secret bool) string {
	switch {
	case e.cause != nil && !secret:
		return fmt.Sprintf("%s is not valid: %v", subject, e.cause)
	case e.cause != nil:
		return fmt.Sprintf("%s is not valid", subject)
	case e.detail != "":
		return fmt.Sprintf("%s is not %s: %s", subject, e.what, e.detail)
	default:
		return fmt.Sprintf("%s is not %s", subject, e.what)
	}
}

// numberError is the error of a failed strconv number parse: a value out
// of range is told apart from one that is not a number at all.
func numberError(err error, what string) error {
	if errors.Is(err, strconv.ErrRange) {
		return &valueError{what: what, detail: "out of range"}
	}
	return &valueError{what: what}
}

// parse converts raw into a value of type t (whose kind is k). For lists it
// returns the items alone; the caller decides between replacing and
// appending.
func parse(t reflect.Type, k kind, raw string) (reflect.Value, error) {
	v := reflect.New(t).Elem()
	switch k {
	case kindString:
		v.SetString(raw)
	case kindBool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return v, &valueError{what: "a boolean (true or false)"}
		}
		v.SetBool(b)
	case kindInt, kindInt64:
		n, err := strconv.ParseInt(raw, 10, t.Bits())
		if err != nil {
			return v, numberError(err, "an integer")
		}
		v.SetInt(n)
	case kindFloat64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return v, numberError(err, "a number")
		}
		v.SetFloat(f)
	case kindDuration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return v, &valueError{what: "a duration (e.g. 10m)"}
		}
		v.SetInt(int64(d))
	case kindStrings:
		items := reflect.MakeSlice(t, 0, strings.Count(raw, ",")+1)
		for item := range strings.SplitSeq(raw, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			items = reflect.Append(items, reflect.ValueOf(item).Convert(t.Elem()))
		}
		if items.Len() == 0 {
			items = reflect.Zero(t)
		}
		v.Set(items)
	case kindText:
		p := reflect.New(t)
		if err := p.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(raw)); err != nil {
			return v, &valueError{cause: err}
		}
		v.Set(p.Elem())
	default:
		return v, fmt.Errorf("%w: unknown kind %d", ErrSpec, k)
	}
	return v, nil
}

// format renders v (of kind k) the way parse reads it back.
func format(v reflect.Value, k kind) string {
	switch k {
	case kindString:
		return v.String()
	case kindBool:
		return strconv.FormatBool(v.Bool())
	case kindInt, kindInt64:
		return strconv.FormatInt(v.Int(), 10)
	case kindFloat64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case kindDuration:
		return time.Duration(v.Int()).String()
	case kindStrings:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = v.Index(i).String()
		}
		return strings.Join(items, ",")
	case kindText:
		if m, ok := v.Interface().(encoding.TextMarshaler); ok {
			if b, err := m.MarshalText(); err == nil {
				return string(b)
			}
		} else if v.CanAddr() {
			if m, ok := v.Addr().Interface().(encoding.TextMarshaler); ok {
				if b, err := m.MarshalText(); err == nil {
					return string(b)
				}
			}
		}
		return fmt.Sprint(v.Interface())
	}
	return fmt.Sprint(v.Interface())
}
