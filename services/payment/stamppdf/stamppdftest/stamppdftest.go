// Package stamppdftest reads a printed stamp back with outside tools, for
// tests: poppler (pdftotext, pdfimages) and gozxing, a Go port of ZXing,
// as the QR decoder.
package stamppdftest

import (
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/text/unicode/norm"
)

// Poppler runs one of poppler's tools and returns its output.
func Poppler(t testing.TB, tool string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found: install poppler-utils (deploy/local/ensure-services.sh)", tool)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
	return string(out)
}

// Save writes pdf to a temporary file and returns its path.
func Save(t testing.TB, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stamp.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Text is the PDF's text as pdftotext reads it (layout kept), NFKC
// normalised so that the Arabic presentation forms read as the letters.
func Text(t testing.TB, path string) string {
	t.Helper()
	return norm.NFKC.String(Poppler(t, "pdftotext", "-layout", path, "-"))
}

// QR decodes the PDF's one image, as pdfimages extracts it, as a QR code
// and returns its text.
func QR(t testing.TB, path string) string {
	t.Helper()
	dir := t.TempDir()
	Poppler(t, "pdfimages", "-png", path, filepath.Join(dir, "img"))
	files, _ := filepath.Glob(filepath.Join(dir, "img-*.png"))
	if len(files) != 1 {
		t.Fatalf("pdfimages extracted %d images; want the one QR code", len(files))
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("decode the QR code: %v", err)
	}
	return res.GetText()
}
