package problems

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the codes-by-enabler section of docs/errors.md from the registry")

// TestEnablerCodesHaveTexts: every code of every enabler's registry has
// an Arabic and an English text in the catalogue (its own or its
// "*.<what>" entry's), the Arabic one with Arabic letters, and is a
// well-formed violation code; no enabler lists a code twice.
func TestEnablerCodesHaveTexts(t *testing.T) {
	t.Parallel()
	if len(Enablers) != 5 {
		t.Fatalf("registry has %d enablers; want auth, content, notification, payment, signature", len(Enablers))
	}
	for _, e := range Enablers {
		if len(e.Codes) < 5 {
			t.Errorf("%s lists %d codes", e.Name, len(e.Codes))
		}
		if !slices.IsSorted(e.Codes) || len(slices.Compact(slices.Clone(e.Codes))) != len(e.Codes) {
			t.Errorf("%s: codes are not sorted and unique", e.Name)
		}
		for _, code := range e.Codes {
			if !violationCode.MatchString(code) {
				t.Errorf("%s: %q is not field.snake_case", e.Name, code)
			}
			for _, lang := range Languages {
				text, ok := lookup(lang, code)
				if !ok {
					t.Errorf("%s: %q has no %s text in texts.json", e.Name, code, lang)
					continue
				}
				if lang == Arabic && !strings.ContainsFunc(text, func(r rune) bool { return r >= 0x0600 && r <= 0x06FF }) {
					t.Errorf("%s: Arabic text of %q has no Arabic letter: %q", e.Name, code, text)
				}
			}
		}
	}
}

// TestDocsListEveryEnablerCode: docs/errors.md has the codes of each
// enabler, in the section generated from the registry (go test -update
// rewrites it), and a text row (its own or "*.<what>") for each.
func TestDocsListEveryEnablerCode(t *testing.T) {
	t.Parallel()
	const path = "../../docs/errors.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- codes by enabler: generated from gateway/problems/enablers.go -->\n", "<!-- end of codes by enabler -->\n"
	i, j := strings.Index(string(doc), begin), strings.Index(string(doc), end)
	if i < 0 || j < i {
		t.Fatalf("docs/errors.md has no section between %q and %q", begin, end)
	}
	want := enablersSection()
	if got := string(doc[i+len(begin) : j]); got != want {
		if *update {
			out := string(doc[:i+len(begin)]) + want + string(doc[j:])
			if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("docs/errors.md: the codes-by-enabler section is out of date; run go test ./gateway/problems -run TestDocsListEveryEnablerCode -update")
	}
	for _, e := range Enablers {
		for _, code := range e.Codes {
			row := code
			if _, ok := texts[English][code]; !ok {
				row = "*" + code[strings.LastIndexByte(code, '.'):]
			}
			if !strings.Contains(string(doc), "| `"+row+"` |") {
				t.Errorf("docs/errors.md has no text row for %s's %q (%q)", e.Name, code, row)
			}
		}
	}
}

// enablersSection is the docs section listing each enabler's codes.
func enablersSection() string {
	var b strings.Builder
	for _, e := range Enablers {
		b.WriteString("\n### " + e.Name + "\n\n")
		for i, c := range e.Codes {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("`" + c + "`")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return b.String()
}

// TestEnablersGiveEveryViolationACode reads each enabler's Go source
// (services/<name>, not its tests): every FieldError it builds names its
// code, every Rule with a field names the field's code, no violation is
// added with Builder.Field (whose code is the generic <field>.invalid),
// and every code written out in full, or as "<prefix>." + what, is in
// the enabler's registry. Each registry code's last part appears in the
// enabler's source (or in libs/textcheck and libs/phone, which make the
// display-text and phone codes), so that a code the source no longer
// makes does not stay listed.
func TestEnablersGiveEveryViolationACode(t *testing.T) {
	t.Parallel()
	libWhats := stringLiterals(t, "../../libs/textcheck", "../../libs/phone")
	for _, e := range Enablers {
		registry := map[string]bool{}
		for _, c := range e.Codes {
			registry[c] = true
		}
		listed := func(code string) bool {
			return registry[code] || registry["*"+code[strings.LastIndexByte(code, '.'):]]
		}
		dir := filepath.Join("../../services", e.Name)
		files := goFiles(t, dir)
		literals := map[string]bool{}
		for name, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING {
						literals[s] = true
					}
				case *ast.CompositeLit:
					checkLiteral(t, e.Name, name, n, listed, registry)
				case *ast.CallExpr:
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Field" && len(n.Args) == 2 {
						t.Errorf("%s: %s: Builder.Field gives the generic <field>.invalid code; use Fields with a coded FieldError", e.Name, name)
					}
					if code, ok := fieldCodeCall(n); ok && !listed(code) {
						t.Errorf("%s: %s: code %q is not in the registry (gateway/problems/enablers.go)", e.Name, name, code)
					}
				}
				return true
			})
		}
		for _, c := range e.Codes {
			what := c[strings.LastIndexByte(c, '.')+1:]
			made := literals[c] || literals[what] || libWhats[what]
			for l := range literals {
				made = made || strings.HasSuffix(c, "."+l)
			}
			if !made {
				t.Errorf("%s: registry code %q: nothing in services/%s makes it", e.Name, c, e.Name)
			}
		}
	}
}

// checkLiteral checks one composite literal of an enabler's source.
func checkLiteral(t *testing.T, enabler, file string, n *ast.CompositeLit, listed func(string) bool, registry map[string]bool) {
	t.Helper()
	typ := typeName(n.Type)
	if typ != "FieldError" && typ != "Rule" && typ != "BulkRowError" {
		return
	}
	keys := map[string]ast.Expr{}
	for _, el := range n.Elts {
		if kv, ok := el.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok {
				keys[id.Name] = kv.Value
			}
		}
	}
	codeKey := "Code"
	if typ == "Rule" {
		if keys["Field"] == nil {
			return
		}
		codeKey = "FieldCode"
	}
	v, ok := keys[codeKey]
	if !ok {
		t.Errorf("%s: %s: a %s without %s: its code would be the generic <field>.invalid", enabler, file, typ, codeKey)
		return
	}
	switch v := v.(type) {
	case *ast.BasicLit:
		code, _ := strconv.Unquote(v.Value)
		if typ == "BulkRowError" {
			code = "rows." + code
		}
		if !listed(code) {
			t.Errorf("%s: %s: code %q is not in the registry (gateway/problems/enablers.go)", enabler, file, code)
		}
	case *ast.BinaryExpr:
		if lit, ok := v.X.(*ast.BasicLit); ok {
			prefix, _ := strconv.Unquote(lit.Value)
			found := false
			for c := range registry {
				found = found || strings.HasPrefix(c, prefix)
			}
			if !found {
				t.Errorf("%s: %s: no registry code starts with %q", enabler, file, prefix)
			}
		}
	case *ast.CallExpr:
		if code, ok := fieldCodeCall(v); ok && !listed(code) {
			t.Errorf("%s: %s: code %q is not in the registry (gateway/problems/enablers.go)", enabler, file, code)
		}
	}
}

// fieldCodeCall reads rpcerr.FieldCode("field", "what") with both
// arguments written out.
func fieldCodeCall(n *ast.CallExpr) (string, bool) {
	sel, ok := n.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "FieldCode" || len(n.Args) != 2 {
		return "", false
	}
	f, ok1 := n.Args[0].(*ast.BasicLit)
	w, ok2 := n.Args[1].(*ast.BasicLit)
	if !ok1 || !ok2 {
		return "", false
	}
	field, _ := strconv.Unquote(f.Value)
	what, _ := strconv.Unquote(w.Value)
	return field + "." + what, true
}

// typeName is the name of a composite literal's type (FieldError for
// rpcerr.FieldError), "" for an unnamed one.
func typeName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

// goFiles parses the non-test Go files of dir and of its subdirectories.
func goFiles(t *testing.T, dirs ...string) map[string]*ast.File {
	t.Helper()
	out := map[string]*ast.File{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			nameElidedTypes(f)
			out[path] = f
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no Go files in %v", dirs)
	}
	return out
}

// nameElidedTypes gives the elements of a slice literal whose type is
// elided ([]rpcerr.Rule{{Err: …}}) their type, so that the checks see
// them as Rule literals.
func nameElidedTypes(f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		arr, ok := lit.Type.(*ast.ArrayType)
		if !ok {
			return true
		}
		for _, el := range lit.Elts {
			if inner, ok := el.(*ast.CompositeLit); ok && inner.Type == nil {
				inner.Type = arr.Elt
			}
		}
		return true
	})
}

// stringLiterals are the string literals of the Go files of dirs.
func stringLiterals(t *testing.T, dirs ...string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, f := range goFiles(t, dirs...) {
		ast.Inspect(f, func(n ast.Node) bool {
			if l, ok := n.(*ast.BasicLit); ok && l.Kind == token.STRING {
				if s, err := strconv.Unquote(l.Value); err == nil {
					out[s] = true
				}
			}
			return true
		})
	}
	return out
}

// TestGuidesLinkTheirCodes: each enabler's guide (docs/guides/<name>.md)
// links to its list of codes in docs/errors.md, whose heading is the
// link's anchor.
func TestGuidesLinkTheirCodes(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range Enablers {
		if !strings.Contains(string(doc), "\n### "+e.Name+"\n") {
			t.Errorf("docs/errors.md has no heading %q for the anchor #%s", "### "+e.Name, e.Name)
		}
		guide, err := os.ReadFile("../../docs/guides/" + e.Name + ".md")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(guide), "(../errors.md#"+e.Name+")") {
			t.Errorf("docs/guides/%s.md does not link to ../errors.md#%s", e.Name, e.Name)
		}
	}
}

// TestEveryProblemCodeHasTexts: the problem codes the gateway writes
// itself (problemTypePrefix + "…", an authFailure's kind) and those the
// enablers' ErrorInfo reasons become (a Rule's Reason, rpcerr.New's
// reason: "invalid_grant" → invalid-grant) are in the catalogue, so that
// their detail is Arabic when asked for; only the oauth-* problems of
// /oauth2/token, which follow RFC 6749, keep their English.
func TestEveryProblemCodeHasTexts(t *testing.T) {
	t.Parallel()
	check := func(where, code string) {
		t.Helper()
		if strings.HasPrefix(code, "oauth-") {
			return
		}
		if _, ok := texts[Arabic][code]; !ok {
			t.Errorf("%s: problem code %q has no text in texts.json", where, code)
		}
	}
	n := 0
	for path, f := range goFiles(t, "..") {
		if strings.Contains(path, "problems") {
			continue
		}
		ast.Inspect(f, func(node ast.Node) bool {
			switch node := node.(type) {
			case *ast.BinaryExpr:
				if id, ok := node.X.(*ast.Ident); ok && id.Name == "problemTypePrefix" {
					if lit, ok := node.Y.(*ast.BasicLit); ok {
						code, _ := strconv.Unquote(lit.Value)
						check(path, code)
						n++
					}
				}
			case *ast.KeyValueExpr:
				if id, ok := node.Key.(*ast.Ident); ok && id.Name == "kind" {
					if lit, ok := node.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						code, _ := strconv.Unquote(lit.Value)
						check(path, code)
						n++
					}
				}
			}
			return true
		})
	}
	for _, e := range Enablers {
		files := goFiles(t, filepath.Join("../../services", e.Name))
		consts := map[string]string{}
		for _, f := range files {
			ast.Inspect(f, func(node ast.Node) bool {
				if vs, ok := node.(*ast.ValueSpec); ok {
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[name.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
				return true
			})
		}
		reason := func(path string, x ast.Expr) {
			var r string
			switch x := x.(type) {
			case *ast.BasicLit:
				r, _ = strconv.Unquote(x.Value)
			case *ast.Ident:
				r = consts[x.Name]
			default:
				return // rpcerr.Reason…: the rpcerr package's own, checked below
			}
			if r != "" {
				check(e.Name+": "+path, strings.ReplaceAll(strings.ToLower(r), "_", "-"))
				n++
			}
		}
		for path, f := range files {
			ast.Inspect(f, func(node ast.Node) bool {
				switch node := node.(type) {
				case *ast.CompositeLit:
					if typeName(node.Type) == "Rule" {
						for _, el := range node.Elts {
							if kv, ok := el.(*ast.KeyValueExpr); ok {
								if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "Reason" {
									reason(path, kv.Value)
								}
							}
						}
					}
				case *ast.CallExpr:
					if sel, ok := node.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "New" && len(node.Args) == 3 {
						if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "rpcerr" {
							reason(path, node.Args[1])
						}
					}
				}
				return true
			})
		}
	}
	for _, lit := range []string{"INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS", "CONFLICT", "FAILED_PRECONDITION", "UNIMPLEMENTED",
		"UNAUTHENTICATED", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "INTERNAL", "STORAGE_FULL", "STORAGE_UNAVAILABLE"} {
		check("libs/rpcerr", strings.ReplaceAll(strings.ToLower(lit), "_", "-"))
	}
	if n < 20 {
		t.Errorf("found %d problem codes in the gateway's and the enablers' source; the scan is broken", n)
	}
}
