package watch

import (
	"encoding/json"
	"fmt"
)

// SetTestHookBulkSaved makes every save run f between writing the bulk
// file and the head (nil: nothing).
func SetTestHookBulkSaved(f func() error) { testHookBulkSaved = f }

// LegacyState is the watcher's state as a version 2 file, the single file
// earlier acdledgers wrote.
func (w *Watcher) LegacyState() ([]byte, error) {
	if err := w.loadBulk(); err != nil {
		return nil, err
	}
	rs, err := w.bulk.eng.MarshalState()
	if err != nil {
		return nil, err
	}
	return json.Marshal(legacyFile{Version: legacyVersion, Checkpoint: string(w.cp.Raw), Edge: w.edge, SeenAt: w.seen,
		Admission: w.bulk.adm, Rules: rs, Trust: w.bulk.hist})
}

// BulkFile is the path of the bulk file the watcher's head names.
func (w *Watcher) BulkFile() string {
	if w.sum == "" {
		panic(fmt.Sprintf("watcher on %s: nothing saved", w.opts.State))
	}
	return bulkPath(w.opts.State, w.sum)
}
