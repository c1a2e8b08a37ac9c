package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// prepareOut makes the directory of a key file base (keygen --out
// keys/nco writes keys/nco.key…), so a walk-through works from an empty
// directory. Private key directories are 0700.
func prepareOut(base string) error {
	if base == "" {
		return errors.New("--out is empty")
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o700); err != nil {
		return fmt.Errorf("--out %s: %w", base, err)
	}
	return nil
}

// existsHint explains a refusal to overwrite a key file: keys are never
// overwritten, so a new key (a rotation) needs a new --out.
func existsHint(err error, path string) error {
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s already exists: keys are never overwritten; for a new key (e.g. a rotation) give another --out, and keep the old file", path)
	}
	return err
}
