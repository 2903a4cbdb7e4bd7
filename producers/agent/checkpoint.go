package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// fileCheckpoint is how far one file was acknowledged.
type fileCheckpoint struct {
	ID     fileID `json:"id"`
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
}

// checkpointFile is the agent's offsets, one list per flow, rewritten whole
// (to a temporary file, synced, renamed) after every acknowledged buffer.
type checkpointFile struct {
	path string
	mu   sync.Mutex
	data checkpointData
}

type checkpointData struct {
	Version int                         `json:"version"`
	Updated time.Time                   `json:"updated"`
	Flows   map[string][]fileCheckpoint `json:"flows"`
}

func openCheckpoints(path string) (*checkpointFile, error) {
	c := &checkpointFile{path: path, data: checkpointData{Version: 1, Flows: map[string][]fileCheckpoint{}}}
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c, nil
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal(raw, &c.data); err != nil || c.data.Version != 1 {
		return nil, fmt.Errorf("checkpoint file %s is damaged (%v): move it away to start the flows from their initial position", path, err)
	}
	if c.data.Flows == nil {
		c.data.Flows = map[string][]fileCheckpoint{}
	}
	return c, nil
}

// flow returns the flow's offsets and whether the file has the flow.
func (c *checkpointFile) flow(key string) ([]fileCheckpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	files, ok := c.data.Flows[key]
	return files, ok
}

// save records one flow's offsets and writes the file durably.
func (c *checkpointFile) save(key string, files []fileCheckpoint, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data.Flows[key] = files
	c.data.Updated = now.UTC()
	raw, err := json.MarshalIndent(c.data, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return err
	}
	tmp := c.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(raw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, c.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write checkpoint %s: %w", c.path, err)
	}
	if d, err := os.Open(filepath.Dir(c.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
