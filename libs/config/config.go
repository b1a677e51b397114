package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
)

// EnvPrefix starts the name of every environment variable Load reads.
const EnvPrefix = "TAMKEEN_"

// fileSuffix is appended to a secret's environment variable to name a file
// holding its value.
const fileSuffix = "_FILE"

// redacted replaces secret values in Describe.
const redacted = "[redacted]"

// setting is one configurable field of a Config struct.
type setting struct {
	index    []int  // reflect field index path from the root struct
	path     string // Go field path, e.g. "Auth.TokenTTL"
	flag     string // flag name without dashes, prefixes applied
	env      string // full environment variable name
	def      string
	hasDef   bool
	usage    string
	secret   bool
	required bool
	kind     kind
	typ      reflect.Type
}

// inspect checks that cfg is a non-nil pointer to a struct and lists its
// settings.
func inspect(cfg any) (reflect.Value, []setting, error) {
	rv := reflect.ValueOf(cfg)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, nil, fmt.Errorf("%w: want a non-nil pointer to a struct, got %T", ErrSpec, cfg)
	}
	var out []setting
	w := walker{flags: map[string]string{}, envs: map[string]string{}}
	if err := w.walk(rv.Elem().Type(), nil, "", "", "", &out); err != nil {
		return reflect.Value{}, nil, err
	}
	return rv, out, nil
}

// walker remembers the names seen so far to refuse duplicates.
type walker struct {
	flags map[string]string // flag name → Go path
	envs  map[string]string // env name → Go path
}

func (w *walker) walk(t reflect.Type, index []int, path, flagPrefix, envPrefix string, out *[]setting) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		name := sf.Tag.Get("flag")
		if name == "-" {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		fpath := sf.Name
		if path != "" {
			fpath = path + "." + sf.Name
		}
		k, leaf := kindOf(sf.Type)
		if !leaf && sf.Type.Kind() == reflect.Struct && name == "" {
			if !sf.IsExported() && !sf.Anonymous {
				continue
			}
			prefix := sf.Tag.Get("prefix")
			if prefix != "" && !validName(strings.TrimSuffix(prefix, "-")) {
				return fmt.Errorf("%w: %s: prefix %q must be lower-case letters, digits and dashes", ErrSpec, fpath, prefix)
			}
			if err := w.walk(sf.Type, idx, fpath, flagPrefix+prefix, envPrefix+envName(prefix), out); err != nil {
				return err
			}
			continue
		}
		if name == "" {
			continue // not configuration
		}
		if !sf.IsExported() {
			return fmt.Errorf("%w: %s: field with a flag tag must be exported", ErrSpec, fpath)
		}
		if !leaf {
			return fmt.Errorf("%w: %s: unsupported type %s", ErrSpec, fpath, sf.Type)
		}
		if !validName(name) {
			return fmt.Errorf("%w: %s: flag %q must be lower-case letters, digits and dashes", ErrSpec, fpath, name)
		}
		s := setting{
			index: idx,
			path:  fpath,
			flag:  flagPrefix + name,
			usage: sf.Tag.Get("usage"),
			kind:  k,
			typ:   sf.Type,
		}
		env := sf.Tag.Get("env")
		if env == "" {
			env = envName(name)
		}
		s.env = EnvPrefix + envPrefix + env
		s.def, s.hasDef = sf.Tag.Lookup("default")
		var err error
		if s.secret, err = boolTag(sf, "secret"); err != nil {
			return err
		}
		if s.required, err = boolTag(sf, "required"); err != nil {
			return err
		}
		if s.hasDef {
			if _, err := parse(s.typ, s.kind, s.def); err != nil {
				return fmt.Errorf("%w: %s: default %q: %v", ErrSpec, fpath, s.def, err)
			}
		}
		if other, dup := w.flags[s.flag]; dup {
			return fmt.Errorf("%w: %s and %s both use flag --%s", ErrSpec, other, fpath, s.flag)
		}
		if other, dup := w.envs[s.env]; dup {
			return fmt.Errorf("%w: %s and %s both use %s", ErrSpec, other, fpath, s.env)
		}
		w.flags[s.flag], w.envs[s.env] = fpath, fpath
		*out = append(*out, s)
	}
	return nil
}

func boolTag(sf reflect.StructField, tag string) (bool, error) {
	v, ok := sf.Tag.Lookup(tag)
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: %s: tag %s:%q is not true or false", ErrSpec, sf.Name, tag, v)
	}
	return b, nil
}

// validName reports whether s is a usable flag name.
func validName(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// envName turns a flag name (or prefix) into its environment form.
func envName(flagName string) string {
	return strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagValue binds one flag to one field of one Config value. Its Set never
// fails, so that flag parsing goes on and Load can report every bad value.
type flagValue struct {
	owner reflect.Value // the *Config the flag writes into
	s     *setting
	field reflect.Value
	set   bool     // set by a flag during the current Load
	errs  []string // parse failures during the current Load
}

// String implements flag.Value. It must work on the zero value, which the
// flag package creates to compare defaults.
func (fv *flagValue) String() string {
	if fv == nil || fv.s == nil || fv.s.secret {
		return ""
	}
	return format(fv.field, fv.s.kind)
}

// IsBoolFlag lets bool settings be given as a bare --flag.
func (fv *flagValue) IsBoolFlag() bool { return fv != nil && fv.s != nil && fv.s.kind == kindBool }

// Set implements flag.Value.
func (fv *flagValue) Set(raw string) error {
	v, err := parse(fv.s.typ, fv.s.kind, raw)
	if err != nil {
		fv.errs = append(fv.errs, valueMessage(fv.s, raw, err, "--"+fv.s.flag))
		return nil
	}
	if fv.s.kind == kindStrings && fv.set {
		v = reflect.AppendSlice(fv.field, v)
	}
	fv.field.Set(v)
	fv.set = true
	return nil
}

// Register defines a flag on fs for every setting of the struct cfg points to,
// so that a command can add flags of its own before calling Load with the same
// FlagSet. The flags write into *cfg; use them through Load, which also
// applies environment variables and defaults and reports bad values.
func Register(fs *flag.FlagSet, cfg any) error {
	rv, settings, err := inspect(cfg)
	if err != nil {
		return err
	}
	_, err = register(fs, rv, settings)
	return err
}

func register(fs *flag.FlagSet, rv reflect.Value, settings []setting) ([]*flagValue, error) {
	for i := range settings {
		if fs.Lookup(settings[i].flag) != nil {
			return nil, fmt.Errorf("%w: flag --%s (%s) is already defined", ErrSpec, settings[i].flag, settings[i].path)
		}
	}
	values := make([]*flagValue, len(settings))
	for i := range settings {
		s := &settings[i]
		fv := &flagValue{owner: rv, s: s, field: rv.Elem().FieldByIndex(s.index)}
		fs.Var(fv, s.flag, usageText(s))
		if !s.secret {
			fs.Lookup(s.flag).DefValue = s.def
		} else {
			fs.Lookup(s.flag).DefValue = ""
		}
		values[i] = fv
	}
	return values, nil
}

func usageText(s *setting) string {
	var b strings.Builder
	b.WriteString(s.usage)
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	b.WriteString("(env ")
	b.WriteString(s.env)
	if s.secret {
		b.WriteString(" or " + s.env + fileSuffix)
	}
	b.WriteString(")")
	if s.required {
		b.WriteString(" [required]")
	}
	return b.String()
}

// bind finds the flags Register defined for rv on fs, registering them when
// fs has none of them yet.
func bind(fs *flag.FlagSet, rv reflect.Value, settings []setting) ([]*flagValue, error) {
	if len(settings) == 0 {
		return nil, nil
	}
	if fs.Lookup(settings[0].flag) == nil {
		return register(fs, rv, settings)
	}
	values := make([]*flagValue, len(settings))
	for i := range settings {
		f := fs.Lookup(settings[i].flag)
		fv, ok := flagValueOf(f)
		if !ok || fv.owner.Pointer() != rv.Pointer() || fv.owner.Type() != rv.Type() {
			return nil, fmt.Errorf("%w: flag --%s on this FlagSet was not registered for this config value", ErrSpec, settings[i].flag)
		}
		values[i] = fv
	}
	return values, nil
}

func flagValueOf(f *flag.Flag) (*flagValue, bool) {
	if f == nil {
		return nil, false
	}
	fv, ok := f.Value.(*flagValue)
	return fv, ok
}

// Load fills the struct cfg points to: first the default tags, then
// environment variables found with lookupEnv (os.LookupEnv in main; _FILE
// variables for secrets), then the flags in args parsed with fs. If fs has
// none of cfg's flags yet, Load registers them first. fs may be nil when a
// caller has no command line (args must then be empty).
//
// Afterwards it checks required settings and calls cfg's Validate method if
// it has one (Validate() error; a *Error it returns is merged).
//
// Load returns flag.ErrHelp when args ask for help (fs has printed the
// usage), *Error listing every problem when the configuration is invalid, and
// an error wrapping ErrSpec when the struct itself is defined wrongly.
func Load(cfg any, fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) error {
	rv, settings, err := inspect(cfg)
	if err != nil {
		return err
	}
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	var values []*flagValue
	if fs != nil {
		if values, err = bind(fs, rv, settings); err != nil {
			return err
		}
		for _, fv := range values {
			fv.set, fv.errs = false, nil
		}
	} else if len(args) > 0 {
		return fmt.Errorf("%w: command-line arguments given without a FlagSet", ErrSpec)
	}

	root := rv.Elem()
	envProblems := make([][]Problem, len(settings))
	for i := range settings {
		s := &settings[i]
		raw, src, ok, msg := source(s, lookupEnv)
		if msg != "" {
			envProblems[i] = append(envProblems[i], problemFor(s, msg))
			continue
		}
		if !ok {
			continue
		}
		v, err := parse(s.typ, s.kind, raw)
		if err != nil {
			envProblems[i] = append(envProblems[i], problemFor(s, valueMessage(s, raw, err, src)))
			continue
		}
		root.FieldByIndex(s.index).Set(v)
	}

	var problems []Problem
	if fs != nil {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		if err != nil {
			problems = append(problems, Problem{Message: err.Error()})
		}
	}

	// Problems with single settings are listed in the struct's order.
	bad := make([]bool, len(settings))
	for i := range settings {
		s := &settings[i]
		var mine []Problem
		// A flag overrides the environment, so a bad environment value
		// that a flag replaced does not matter.
		if values == nil || !values[i].set {
			mine = append(mine, envProblems[i]...)
		}
		if values != nil {
			for _, msg := range values[i].errs {
				mine = append(mine, problemFor(s, msg))
			}
		}
		if len(mine) == 0 && s.required && root.FieldByIndex(s.index).IsZero() {
			mine = append(mine, problemFor(s, "required"))
		}
		bad[i] = len(mine) > 0
		problems = append(problems, mine...)
	}

	if vd, ok := cfg.(interface{ Validate() error }); ok {
		problems = append(problems, validateProblems(vd.Validate(), settings, bad)...)
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

// source finds the raw value of s outside the command line. ok is false when
// nothing sets it; msg is a problem to report instead.
func source(s *setting, lookupEnv func(string) (string, bool)) (raw, src string, ok bool, msg string) {
	val, hasVal := lookupEnv(s.env)
	hasVal = hasVal && val != ""
	if s.secret {
		path, hasFile := lookupEnv(s.env + fileSuffix)
		hasFile = hasFile && path != ""
		switch {
		case hasVal && hasFile:
			return "", "", false, fmt.Sprintf("set %s or %s, not both", s.env, s.env+fileSuffix)
		case hasFile:
			b, err := os.ReadFile(path)
			if err != nil {
				return "", "", false, fmt.Sprintf("cannot read the file named by %s: %v", s.env+fileSuffix, err)
			}
			return strings.TrimRight(string(b), "\r\n"), s.env + fileSuffix, true, ""
		}
	}
	switch {
	case hasVal:
		return val, s.env, true, ""
	case s.hasDef:
		return s.def, "default", true, ""
	}
	return "", "", false, ""
}

// valueMessage explains why raw (from src) is not a valid value for s,
// without revealing secrets.
func valueMessage(s *setting, raw string, err error, src string) string {
	var msg string
	var ve *valueError
	if errors.As(err, &ve) {
		subject := "value"
		if !s.secret {
			subject = strconv.Quote(raw)
		}
		msg = ve.describe(subject, s.secret)
	} else {
		msg = err.Error()
	}
	return fmt.Sprintf("%s (from %s)", msg, src)
}

func problemFor(s *setting, msg string) Problem {
	return Problem{Flag: s.flag, Env: s.env, Message: msg}
}

// validateProblems turns the error of a Validate method into problems,
// naming settings by flag and environment variable and dropping findings
// about settings already reported as bad.
func validateProblems(err error, settings []setting, bad []bool) []Problem {
	if err == nil {
		return nil
	}
	var ce *Error
	if !errors.As(err, &ce) {
		return []Problem{{Message: err.Error()}}
	}
	var out []Problem
	for _, p := range ce.Problems {
		if p.Flag != "" && p.Env == "" {
			for i := range settings {
				s := &settings[i]
				if p.Flag == s.flag || p.Flag == s.path {
					if bad[i] {
						p.Message = "" // already reported
					}
					p.Flag, p.Env = s.flag, s.env
					break
				}
			}
		}
		if p.Message != "" {
			out = append(out, p)
		}
	}
	return out
}

// Describe lists the effective configuration as one attribute per setting,
// keyed by flag name, with secret values shown as "[redacted]" (or "" when
// unset) — safe to log at start-up:
//
//	logger.LogAttrs(ctx, slog.LevelInfo, "config", config.Describe(&cfg)...)
//
// cfg may be a struct or a pointer to one. A struct Load cannot handle gives a
// single "config_error" attribute.
func Describe(cfg any) []slog.Attr {
	rv := reflect.ValueOf(cfg)
	if rv.Kind() == reflect.Struct {
		p := reflect.New(rv.Type())
		p.Elem().Set(rv)
		rv = p
	}
	if rv.Kind() != reflect.Pointer {
		return []slog.Attr{slog.String("config_error", fmt.Sprintf("cannot describe %T", cfg))}
	}
	_, settings, err := inspect(rv.Interface())
	if err != nil {
		return []slog.Attr{slog.String("config_error", err.Error())}
	}
	attrs := make([]slog.Attr, 0, len(settings))
	for i := range settings {
		s := &settings[i]
		v := rv.Elem().FieldByIndex(s.index)
		var shown string
		switch {
		case s.secret && v.IsZero():
			shown = ""
		case s.secret:
			shown = redacted
		default:
			shown = format(v, s.kind)
		}
		attrs = append(attrs, slog.String(s.flag, shown))
	}
	return attrs
}
