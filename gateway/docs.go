package gateway

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
)

// The API reference at /docs is Redoc (npm redoc, the standalone bundle
// tools/internal/openapi-lint pins), embedded in the binary and served by
// the gateway itself: no CDN. The page around it, in Arabic and English,
// is templates/docs.html.
//
//go:embed templates/docs.html templates/redoc.standalone.js
var templateFS embed.FS

// docsScriptPath is where the gateway serves the Redoc bundle.
const docsScriptPath = "/docs/redoc.standalone.js"

// docsInit starts Redoc on /openapi.json. Its hash is in the page's CSP.
const docsInit = `Redoc.init("/openapi.json", {` +
	`expandResponses: "200,201", jsonSampleExpandLevel: 4, requiredPropsFirst: true, sortPropsAlphabetically: false, ` +
	`hideDownloadButton: false, showExtensions: ["x-tamkeen-policy"], pathInMiddlePanel: true, ` +
	`theme: {colors: {primary: {main: "#0b6e4f"}}, typography: {fontFamily: "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'Noto Naskh Arabic', sans-serif", headings: {fontFamily: "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'Noto Naskh Arabic', sans-serif"}}}` +
	`}, document.getElementById("redoc"));`

// docsPage is the data of templates/docs.html.
type docsPage struct {
	Title, Version, OpenAPI, Script string
	Init                            template.JS
}

// docsCSP is the /docs page's Content-Security-Policy: scripts only the
// gateway's own Redoc bundle and the one inline start-up script (by hash),
// data only from the gateway (/openapi.json), Redoc's search index in a
// blob: worker, inline styles (Redoc's styled-components write them), and
// nothing framed, framing or posted.
var docsCSP = "default-src 'none'; script-src 'self' 'sha256-" + scriptHash(docsInit) + "'; " +
	"style-src 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// scriptHash is the CSP hash source value of an inline script.
func scriptHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// renderDocs renders the /docs page.
func renderDocs(title, version string) ([]byte, error) {
	tmpl, err := template.ParseFS(templateFS, "templates/docs.html")
	if err != nil {
		return nil, fmt.Errorf("gateway: docs template: %w", err)
	}
	var buf bytes.Buffer
	page := docsPage{Title: title, Version: version, OpenAPI: openAPIVersion, Script: docsScriptPath, Init: template.JS(docsInit)}
	if err := tmpl.Execute(&buf, page); err != nil {
		return nil, fmt.Errorf("gateway: render docs: %w", err)
	}
	return buf.Bytes(), nil
}

// docsScript returns the embedded Redoc bundle.
func docsScript() ([]byte, error) {
	b, err := templateFS.ReadFile("templates/redoc.standalone.js")
	if err != nil {
		return nil, fmt.Errorf("gateway: docs script: %w", err)
	}
	return b, nil
}

// apiTitle is the document's and the page's title.
const apiTitle = "Tamkeen — e-service enablers API"

// buildDocs builds the OpenAPI document and the docs page once, at New.
func (g *Gateway) buildDocs() error {
	doc, yamlDoc, err := OpenAPIDocument(g.cfg.Version, g.cfg.Issuer)
	if err != nil {
		return err
	}
	page, err := renderDocs(apiTitle, g.cfg.Version)
	if err != nil {
		return err
	}
	script, err := docsScript()
	if err != nil {
		return err
	}
	g.openapi, g.openapiYAML, g.docs, g.docsScript = doc, yamlDoc, page, script
	return nil
}
