package deliver

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// DestinationOptions carry what a destination URL does not.
type DestinationOptions struct {
	// S3Endpoint is an S3-compatible server (s3rver, MinIO); "" is AWS.
	S3Endpoint, Region, Profile string
	// Table and Columns map records to a PostgreSQL table; see NewPostgres.
	Table   string
	Columns string
	// App names the checkpoint rows a PostgreSQL destination keeps.
	App string
}

// Open returns the destination a --to URL names: file:///DIR,
// s3://BUCKET/PREFIX or postgres://… (postgresql:// too).
func Open(ctx context.Context, to string, o DestinationOptions) (Destination, string, error) {
	u, err := url.Parse(to)
	if err != nil {
		return nil, "", fmt.Errorf("--to %q: %w", to, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, "", fmt.Errorf("--to %q: a file URL has no host: file:///DIR", to)
		}
		d, err := NewDir(u.Path)
		return d, "", err
	case "s3":
		if u.Host == "" {
			return nil, "", fmt.Errorf("--to %q: name the bucket: s3://BUCKET/PREFIX", to)
		}
		d, err := NewS3(ctx, u.Host, o)
		return d, strings.TrimPrefix(u.Path, "/"), err
	case "postgres", "postgresql":
		d, err := NewPostgres(ctx, to, o)
		return d, "", err
	}
	return nil, "", fmt.Errorf("--to %q: want file:///DIR, s3://BUCKET/PREFIX or postgres://…", to)
}

// Dir delivers objects as files under a directory.
type Dir struct{ root string }

// NewDir returns a destination writing under root (created if missing).
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, fmt.Errorf("no directory: file:///DIR")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	return &Dir{root: root}, nil
}

func (d *Dir) String() string { return "file://" + d.root }
func (d *Dir) Close() error   { return nil }

// Deliver writes the object to a temporary file, syncs it and renames it
// into place: a reader never sees half an object, and a repeat replaces it.
func (d *Dir) Deliver(_ context.Context, b Batch) (Result, error) {
	path := filepath.Join(d.root, filepath.FromSlash(b.Key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return Result{}, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".deliver-*")
	if err != nil {
		return Result{}, err
	}
	_, err = tmp.Write(b.Body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return Result{}, err
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return Result{Rows: 1}, nil
}
