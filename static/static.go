// Package static embeds the console's stylesheets, scripts and the htmx
// build installed from npm, and names each with a content hash so browsers
// can cache it for ever and still pick up a new release.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/url"
)

//go:embed css js vendor img
var files embed.FS

// FS is the embedded asset tree.
var FS fs.FS = files

var versions = func() map[string]string {
	v := map[string]string{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		v[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	return v
}()

// Path returns the URL of an asset, e.g. Path("css/app.css"), with its
// content version in the query string.
func Path(name string) string {
	return "/static/" + name + "?v=" + url.QueryEscape(versions[name])
}

// Version returns the content version of an asset, "" when it does not exist.
func Version(name string) string { return versions[name] }
