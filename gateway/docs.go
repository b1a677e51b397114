package gateway

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
	"strings"
)

//go:embed templates/docs.html
var templateFS embed.FS

// docsPage is the data of templates/docs.html.
type docsPage struct {
	Title, Description, Version string
	Services                    []docsService
}

// docsService is one tag of the OpenAPI document (one enabler).
type docsService struct {
	Name, Description string
	Operations        []docsOperation
}

// docsOperation is one method on one path.
type docsOperation struct {
	ID, Method, Path, Summary string
	Consumes, Produces        string
	Params                    []docsParam
	Body                      []docsField
}

// docsParam is a path, query, header or form parameter.
type docsParam struct {
	Name, In, Type, Description string
	Required                    bool
}

// docsField is one field of a JSON request body.
type docsField struct {
	Name, Type, Description string
}

// swaggerDoc is the part of a Swagger 2.0 document the docs page reads.
type swaggerDoc struct {
	Info struct {
		Title, Description, Version string
	} `json:"info"`
	Tags []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tags"`
	Paths       map[string]map[string]swaggerOp `json:"paths"`
	Definitions map[string]swaggerSchema        `json:"definitions"`
}

// swaggerOp is one operation.
type swaggerOp struct {
	Summary     string         `json:"summary"`
	Description string         `json:"description"`
	OperationID string         `json:"operationId"`
	Tags        []string       `json:"tags"`
	Consumes    []string       `json:"consumes"`
	Produces    []string       `json:"produces"`
	Parameters  []swaggerParam `json:"parameters"`
}

// swaggerParam is one parameter.
type swaggerParam struct {
	Name        string         `json:"name"`
	In          string         `json:"in"`
	Type        string         `json:"type"`
	Format      string         `json:"format"`
	Required    bool           `json:"required"`
	Description string         `json:"description"`
	Schema      *swaggerSchema `json:"schema"`
	Items       *swaggerSchema `json:"items"`
}

// swaggerSchema is the subset of a JSON schema the page shows.
type swaggerSchema struct {
	Ref                  string                   `json:"$ref"`
	Type                 string                   `json:"type"`
	Format               string                   `json:"format"`
	Description          string                   `json:"description"`
	Title                string                   `json:"title"`
	Properties           map[string]swaggerSchema `json:"properties"`
	Items                *swaggerSchema           `json:"items"`
	AdditionalProperties *swaggerSchema           `json:"additionalProperties"`
	Enum                 []string                 `json:"enum"`
}

// renderDocs renders the API reference page from an OpenAPI document.
func renderDocs(openapi []byte) ([]byte, error) {
	var doc swaggerDoc
	if err := json.Unmarshal(openapi, &doc); err != nil {
		return nil, fmt.Errorf("gateway: docs: parse OpenAPI: %w", err)
	}
	page := docsPage{Title: doc.Info.Title, Description: doc.Info.Description, Version: doc.Info.Version}
	byTag := map[string]*docsService{}
	var order []string
	for _, t := range doc.Tags {
		byTag[t.Name] = &docsService{Name: t.Name, Description: t.Description}
		order = append(order, t.Name)
	}
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, m := range httpMethods {
			op, ok := doc.Paths[p][m]
			if !ok {
				continue
			}
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			svc := byTag[tag]
			if svc == nil {
				svc = &docsService{Name: tag}
				byTag[tag] = svc
				order = append(order, tag)
			}
			summary := op.Summary
			if op.Description != "" {
				summary = strings.TrimSpace(summary + "\n" + op.Description)
			}
			do := docsOperation{
				ID: op.OperationID, Method: strings.ToUpper(m), Path: p, Summary: summary,
				Consumes: strings.Join(op.Consumes, ", "), Produces: strings.Join(op.Produces, ", "),
			}
			for _, prm := range op.Parameters {
				if prm.In == "body" && prm.Schema != nil {
					s := doc.resolve(*prm.Schema)
					if len(s.Properties) == 0 {
						do.Params = append(do.Params, docsParam{Name: prm.Name, In: "body", Type: doc.typeName(s), Required: prm.Required, Description: firstNonEmpty(prm.Description, s.Description)})
						continue
					}
					names := make([]string, 0, len(s.Properties))
					for n := range s.Properties {
						names = append(names, n)
					}
					sort.Strings(names)
					for _, n := range names {
						f := s.Properties[n]
						do.Body = append(do.Body, docsField{Name: n, Type: doc.typeName(f), Description: firstNonEmpty(f.Description, f.Title)})
					}
					continue
				}
				typ := prm.Type
				if prm.Format != "" {
					typ += " (" + prm.Format + ")"
				}
				if prm.Type == "array" && prm.Items != nil {
					typ = "array of " + prm.Items.Type
				}
				do.Params = append(do.Params, docsParam{Name: prm.Name, In: prm.In, Type: typ, Required: prm.Required, Description: prm.Description})
			}
			svc.Operations = append(svc.Operations, do)
		}
	}
	for _, name := range order {
		if s := byTag[name]; len(s.Operations) > 0 {
			page.Services = append(page.Services, *s)
		}
	}
	tmpl, err := template.ParseFS(templateFS, "templates/docs.html")
	if err != nil {
		return nil, fmt.Errorf("gateway: docs template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, page); err != nil {
		return nil, fmt.Errorf("gateway: render docs: %w", err)
	}
	return buf.Bytes(), nil
}

// resolve follows a local "#/definitions/X" reference once.
func (d *swaggerDoc) resolve(s swaggerSchema) swaggerSchema {
	if name, ok := strings.CutPrefix(s.Ref, "#/definitions/"); ok {
		if def, ok := d.Definitions[name]; ok {
			return def
		}
	}
	return s
}

// typeName describes a schema's type in a few words.
func (d *swaggerDoc) typeName(s swaggerSchema) string {
	if name, ok := strings.CutPrefix(s.Ref, "#/definitions/"); ok {
		return name
	}
	switch {
	case s.Type == "array" && s.Items != nil:
		return "array of " + d.typeName(*s.Items)
	case s.Type == "object" && s.AdditionalProperties != nil:
		return "map of " + d.typeName(*s.AdditionalProperties)
	case len(s.Enum) > 0:
		return "one of " + strings.Join(s.Enum, ", ")
	case s.Format != "":
		return s.Type + " (" + s.Format + ")"
	case s.Type == "":
		return "object"
	}
	return s.Type
}

// firstNonEmpty returns the first non-empty string.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// buildDocs builds the OpenAPI document and the docs page once, at New.
func (g *Gateway) buildDocs() error {
	tokenURL := "/oauth2/token"
	if g.cfg.Issuer != "" {
		tokenURL = strings.TrimSuffix(g.cfg.Issuer, "/") + tokenURL
	}
	doc, err := buildOpenAPI(g.cfg.Version, tokenURL, g.policies)
	if err != nil {
		return err
	}
	page, err := renderDocs(doc)
	if err != nil {
		return err
	}
	g.openapi, g.docs = doc, page
	return nil
}
