// Package kms is shardscope's local stand-in for AWS KMS: a keyring file
// beside the store holding 256-bit keys, each with an id, an ARN in the
// engine's account and region, aliases, a state (enabled, disabled,
// pending deletion) and its rotation history, plus the two envelope
// operations the engine needs, GenerateDataKey and Decrypt. It knows
// nothing of streams, records or storage; the engine decides what to seal.
package kms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ManagedAlias names the key Kinesis manages for itself; the keyring creates
// it the first time it is asked for.
const ManagedAlias = "alias/aws/kinesis"

// KeyState is a key's state, as KMS names it.
type KeyState string

// The key states.
const (
	StateEnabled         KeyState = "Enabled"
	StateDisabled        KeyState = "Disabled"
	StatePendingDeletion KeyState = "PendingDeletion"
	// StateDeleted is a key no longer in the keyring: its material is gone.
	StateDeleted KeyState = "Deleted"
)

// Kind says which KMS failure an Error is; the engine maps it to the
// Kinesis error name.
type Kind int

// The kinds of Error.
const (
	// KindNotFound: no key or alias of that name.
	KindNotFound Kind = iota + 1
	// KindDisabled: the key is disabled.
	KindDisabled
	// KindInvalidState: the key's state does not allow the call (pending deletion).
	KindInvalidState
	// KindAccessDenied: ciphertext names a key that is gone, or does not open under it.
	KindAccessDenied
	// KindInvalid: a keyring command's argument is not acceptable.
	KindInvalid
)

// Error is a keyring failure with KMS's wording.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

func fail(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns err's Kind, or 0 when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// Deletion waiting periods KMS allows, in days.
const (
	MinDeletionDays = 7
	MaxDeletionDays = 30
)

// PathFor is the keyring file kept beside a store.
func PathFor(storePath string) string { return storePath + ".keys" }

// Options configure Open.
type Options struct {
	// Region and Account make the ARNs of a new keyring file; an existing
	// file keeps its own. Defaults us-east-1 and 000000000000.
	Region, Account string
	// Now tells the time of creations, rotations and deletions; default time.Now.
	Now func() time.Time
}

// The keyring file, JSON, mode 0600.
type fileData struct {
	Version int               `json:"version"`
	Region  string            `json:"region"`
	Account string            `json:"account"`
	Keys    []*fileKey        `json:"keys"`
	Aliases map[string]string `json:"aliases,omitempty"` // "alias/NAME" → key id
}

type fileKey struct {
	ID           string     `json:"id"`
	Description  string     `json:"description,omitempty"`
	Managed      bool       `json:"aws_managed,omitempty"`
	State        KeyState   `json:"state"`
	Created      time.Time  `json:"created"`
	DeletionDate *time.Time `json:"deletion_date,omitempty"`
	// Versions is the rotation history, oldest first; the last encrypts,
	// every one still decrypts.
	Versions []fileVersion `json:"versions"`
}

type fileVersion struct {
	Created  time.Time `json:"created"`
	Material []byte    `json:"material"`
}

// Key is one key of a keyring. The pointer stays valid for the keyring's
// life, so the engine can hold it and ask for its state cheaply; changes
// made by another process reach it within a second.
type Key struct {
	ID  string
	ARN string
	rec atomic.Pointer[fileKey] // nil once the key is gone from the file
	kr  *Keyring
}

// Keyring is a keyring file and its keys. Methods are safe for concurrent
// use, and for use by several processes at once (a server and
// `shardscope keys`): writes hold a lock file and re-read the file first.
type Keyring struct {
	path  string
	now   func() time.Time
	start time.Time // monotonic base for checked
	// checked is when the file was last looked at (ns since start).
	checked atomic.Int64

	mu      sync.Mutex
	data    fileData
	keys    map[string]*Key
	aliases map[string]string
	stamp   os.FileInfo
}

// refreshEvery is how often a running keyring looks for changes made by
// another process.
const refreshEvery = time.Second

// Open opens the keyring at path (see PathFor). The file is created by the
// first change, not here.
func Open(path string, opts Options) (*Keyring, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	k := &Keyring{path: path, now: opts.Now, start: time.Now(), keys: map[string]*Key{},
		data: fileData{Version: 1, Region: opts.Region, Account: opts.Account}}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.load(); err != nil {
		return nil, err
	}
	return k, nil
}

// Path returns the keyring file's path.
func (k *Keyring) Path() string { return k.path }

// load reads the file (when it exists) into memory. k.mu is held.
func (k *Keyring) load() error {
	k.checked.Store(int64(time.Since(k.start)))
	fi, err := os.Stat(k.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keyring %s: %w", k.path, err)
	}
	if k.stamp != nil && os.SameFile(fi, k.stamp) && fi.ModTime().Equal(k.stamp.ModTime()) && fi.Size() == k.stamp.Size() {
		return nil
	}
	d, err := readFile(k.path)
	if err != nil {
		return err
	}
	k.apply(d)
	k.stamp = fi
	return nil
}

func readFile(path string) (fileData, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return fileData{}, fmt.Errorf("keyring %s: %w", path, err)
	}
	var d fileData
	if err := json.Unmarshal(b, &d); err != nil {
		return fileData{}, fmt.Errorf("keyring %s is not a keyring file: %w", path, err)
	}
	if d.Version != 1 {
		return fileData{}, fmt.Errorf("keyring %s: version %d is not supported", path, d.Version)
	}
	for _, fk := range d.Keys {
		for _, v := range fk.Versions {
			if len(v.Material) != 32 {
				return fileData{}, fmt.Errorf("keyring %s: key %s has material of %d bytes, want 32", path, fk.ID, len(v.Material))
			}
		}
		if len(fk.Versions) == 0 {
			return fileData{}, fmt.Errorf("keyring %s: key %s has no material", path, fk.ID)
		}
	}
	return d, nil
}

// apply makes d the keyring's state, updating the Key values in place.
// k.mu is held.
func (k *Keyring) apply(d fileData) {
	k.data = d
	seen := map[string]bool{}
	for _, fk := range d.Keys {
		seen[fk.ID] = true
		k.keyLocked(fk.ID).rec.Store(fk)
	}
	for id, key := range k.keys {
		if !seen[id] {
			key.rec.Store(nil)
		}
	}
	k.aliases = map[string]string{}
	for a, id := range d.Aliases {
		k.aliases[a] = id
	}
}

// keyLocked returns the Key for id, making a placeholder (state Deleted)
// if none is known. k.mu is held.
func (k *Keyring) keyLocked(id string) *Key {
	key := k.keys[id]
	if key == nil {
		key = &Key{ID: id, ARN: k.keyARN(id), kr: k}
		k.keys[id] = key
	}
	return key
}

// refresh re-reads the file when another process may have changed it.
func (k *Keyring) refresh() {
	now := int64(time.Since(k.start))
	last := k.checked.Load()
	if now-last < int64(refreshEvery) || !k.checked.CompareAndSwap(last, now) {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	_ = k.load() // a file being rewritten is read on the next check
}

func (k *Keyring) keyARN(id string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", k.data.Region, k.data.Account, id)
}

func (k *Keyring) aliasARN(alias string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:%s", k.data.Region, k.data.Account, alias)
}

// update changes the file under the lock file: it re-reads the file, lets
// fn change it, writes it whole (0600) and renames it into place.
func (k *Keyring) update(fn func(d *fileData) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	lock, err := os.OpenFile(k.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return fmt.Errorf("keyring: lock %s: %w", lock.Name(), err)
	}
	d := fileData{Version: 1, Region: k.data.Region, Account: k.data.Account}
	if _, err := os.Stat(k.path); err == nil {
		if d, err = readFile(k.path); err != nil {
			return err
		}
	}
	k.purgeDeleted(&d)
	if err := fn(&d); err != nil {
		return err
	}
	if err := writeFile(k.path, d); err != nil {
		return err
	}
	k.apply(d)
	if fi, err := os.Stat(k.path); err == nil {
		k.stamp = fi
	}
	return nil
}

// purgeDeleted removes keys whose deletion date has passed, with their
// aliases: their material is gone for good.
func (k *Keyring) purgeDeleted(d *fileData) {
	now := k.now()
	d.Keys = slices.DeleteFunc(d.Keys, func(fk *fileKey) bool {
		gone := fk.State == StatePendingDeletion && fk.DeletionDate != nil && !now.Before(*fk.DeletionDate)
		if gone {
			for a, id := range d.Aliases {
				if id == fk.ID {
					delete(d.Aliases, a)
				}
			}
		}
		return gone
	})
}

func writeFile(path string, d fileData) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("keyring: write %s: %w", path, err)
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}

func newKeyID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newVersion(now time.Time) fileVersion {
	m := make([]byte, 32)
	rand.Read(m)
	return fileVersion{Created: now.UTC(), Material: m}
}

func findKey(d *fileData, id string) *fileKey {
	for _, fk := range d.Keys {
		if fk.ID == id {
			return fk
		}
	}
	return nil
}

var (
	keyIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	aliasPattern = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)
	arnPattern   = regexp.MustCompile(`^arn:aws[a-z-]*:kms:([^:]*):([^:]*):(key/.+|alias/.+)$`)
)

// Resolve finds the key a KeyId names: a key id, a key ARN, "alias/NAME"
// or an alias ARN. ManagedAlias is created on first use. The key may be
// in any state; Check says whether it may encrypt.
func (k *Keyring) Resolve(keyID string) (*Key, error) {
	k.refresh()
	name := keyID
	if m := arnPattern.FindStringSubmatch(keyID); m != nil {
		k.mu.Lock()
		region, account := k.data.Region, k.data.Account
		k.mu.Unlock()
		if m[1] != region || m[2] != account {
			return nil, fail(KindNotFound, "Invalid arn %s", keyID)
		}
		name = m[3]
	} else if strings.HasPrefix(keyID, "arn:") {
		return nil, fail(KindNotFound, "Invalid arn %s", keyID)
	}
	if name == ManagedAlias {
		if err := k.ensureManaged(); err != nil {
			return nil, err
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case strings.HasPrefix(name, "alias/"):
		id, ok := k.aliases[name]
		if !ok || k.keys[id] == nil || k.keys[id].rec.Load() == nil {
			return nil, fail(KindNotFound, "Alias %s is not found.", k.aliasARN(name))
		}
		return k.keys[id], nil
	case strings.HasPrefix(name, "key/"):
		name = strings.TrimPrefix(name, "key/")
	}
	if !keyIDPattern.MatchString(name) {
		return nil, fail(KindNotFound, "Invalid keyId %s", keyID)
	}
	key := k.keys[name]
	if key == nil || key.rec.Load() == nil {
		return nil, fail(KindNotFound, "Key '%s' does not exist", k.keyARN(name))
	}
	return key, nil
}

// ensureManaged creates the AWS managed key behind ManagedAlias if the
// keyring has none.
func (k *Keyring) ensureManaged() error {
	k.mu.Lock()
	id, ok := k.aliases[ManagedAlias]
	have := ok && k.keys[id] != nil && k.keys[id].rec.Load() != nil
	k.mu.Unlock()
	if have {
		return nil
	}
	return k.update(func(d *fileData) error {
		if id, ok := d.Aliases[ManagedAlias]; ok && findKey(d, id) != nil {
			return nil // another process made it meanwhile
		}
		now := k.now().UTC()
		fk := &fileKey{ID: newKeyID(), Description: "Default key that protects my Kinesis data when no other key is defined",
			Managed: true, State: StateEnabled, Created: now, Versions: []fileVersion{newVersion(now)}}
		d.Keys = append(d.Keys, fk)
		if d.Aliases == nil {
			d.Aliases = map[string]string{}
		}
		d.Aliases[ManagedAlias] = fk.ID
		return nil
	})
}

// Key returns the Key with id, known or not: an unknown id reads as
// StateDeleted until a key of that id appears.
func (k *Keyring) Key(id string) *Key {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keyLocked(id)
}

// State returns the key's state now.
func (key *Key) State() KeyState {
	key.kr.refresh()
	fk := key.rec.Load()
	switch {
	case fk == nil:
		return StateDeleted
	case fk.State == StatePendingDeletion && fk.DeletionDate != nil && !key.kr.now().Before(*fk.DeletionDate):
		return StateDeleted
	}
	return fk.State
}

// Check says whether the key may encrypt now: nil when enabled, else the
// KMS error (not found, disabled, pending deletion).
func (key *Key) Check() error {
	switch key.State() {
	case StateEnabled:
		return nil
	case StateDisabled:
		return fail(KindDisabled, "%s is disabled.", key.ARN)
	case StatePendingDeletion:
		return fail(KindInvalidState, "%s is pending deletion.", key.ARN)
	}
	return fail(KindNotFound, "Key '%s' does not exist", key.ARN)
}

// CheckDecrypt says whether ciphertext under the key may be decrypted now;
// a key that is gone is KindAccessDenied, as KMS answers for ciphertext
// that names a missing key.
func (key *Key) CheckDecrypt() error {
	if key.State() == StateDeleted {
		return fail(KindAccessDenied, "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access: %s.", key.ARN)
	}
	return key.Check()
}

func gcmOf(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // keys are always 32 bytes
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}

// GenerateDataKey makes a fresh 256-bit data key and returns it with a
// copy wrapped by the key's current version; context is bound to the
// wrapped copy (KMS's encryption context) and must be given to Decrypt.
func (key *Key) GenerateDataKey(context []byte) (plain, wrapped []byte, version int, err error) {
	if err := key.Check(); err != nil {
		return nil, nil, 0, err
	}
	fk := key.rec.Load()
	if fk == nil {
		return nil, nil, 0, key.Check()
	}
	version = len(fk.Versions) - 1
	plain = make([]byte, 32)
	rand.Read(plain)
	nonce := make([]byte, 12)
	rand.Read(nonce)
	wrapped = gcmOf(fk.Versions[version].Material).Seal(nonce, nonce, plain, wrapAAD(key.ARN, version, context))
	return plain, wrapped, version, nil
}

// Decrypt unwraps a data key made by GenerateDataKey with the same context.
func (key *Key) Decrypt(version int, wrapped, context []byte) ([]byte, error) {
	if err := key.CheckDecrypt(); err != nil {
		return nil, err
	}
	fk := key.rec.Load()
	if fk == nil {
		return nil, key.CheckDecrypt()
	}
	if version < 0 || version >= len(fk.Versions) || len(wrapped) < 12+16 {
		return nil, fail(KindAccessDenied, "The ciphertext is invalid for %s (no key version %d).", key.ARN, version)
	}
	plain, err := gcmOf(fk.Versions[version].Material).Open(nil, wrapped[:12], wrapped[12:], wrapAAD(key.ARN, version, context))
	if err != nil {
		return nil, fail(KindAccessDenied, "The ciphertext does not open under %s: it was altered or wrapped by another key.", key.ARN)
	}
	return plain, nil
}

// CurrentVersion is the index of the version that encrypts now.
func (key *Key) CurrentVersion() int {
	fk := key.rec.Load()
	if fk == nil {
		return -1
	}
	return len(fk.Versions) - 1
}

func wrapAAD(arn string, version int, context []byte) []byte {
	return fmt.Appendf(nil, "shardscope-kms-v1\x00%s\x00%d\x00%s", arn, version, context)
}

// KeyInfo describes a key for `shardscope keys list`.
type KeyInfo struct {
	ID, ARN      string
	Description  string
	Managed      bool
	State        KeyState
	Created      time.Time
	DeletionDate time.Time // zero unless pending deletion
	Aliases      []string
	// Rotations are the times of the key's rotations, oldest first.
	Rotations []time.Time
}

// List describes every key, oldest first.
func (k *Keyring) List() ([]KeyInfo, error) {
	k.mu.Lock()
	err := k.load()
	var out []KeyInfo
	for _, fk := range k.data.Keys {
		ki := KeyInfo{ID: fk.ID, ARN: k.keyARN(fk.ID), Description: fk.Description, Managed: fk.Managed, State: fk.State, Created: fk.Created}
		if fk.DeletionDate != nil {
			ki.DeletionDate = *fk.DeletionDate
		}
		for a, id := range k.aliases {
			if id == fk.ID {
				ki.Aliases = append(ki.Aliases, a)
			}
		}
		sort.Strings(ki.Aliases)
		for _, v := range fk.Versions[1:] {
			ki.Rotations = append(ki.Rotations, v.Created)
		}
		out = append(out, ki)
	}
	k.mu.Unlock()
	for i := range out {
		out[i].State = k.Key(out[i].ID).State()
	}
	return out, err
}

// Create makes a new enabled customer managed key.
func (k *Keyring) Create(description string) (KeyInfo, error) {
	var id string
	err := k.update(func(d *fileData) error {
		now := k.now().UTC()
		fk := &fileKey{ID: newKeyID(), Description: description, State: StateEnabled, Created: now, Versions: []fileVersion{newVersion(now)}}
		id = fk.ID
		d.Keys = append(d.Keys, fk)
		return nil
	})
	if err != nil {
		return KeyInfo{}, err
	}
	return KeyInfo{ID: id, ARN: k.keyARN(id), Description: description, State: StateEnabled, Created: k.now().UTC()}, nil
}

// customer resolves keyID for a change, refusing the AWS managed key.
// k.mu is not held.
func (k *Keyring) customer(keyID, what string) (string, error) {
	key, err := k.Resolve(keyID)
	if err != nil {
		return "", err
	}
	if fk := key.rec.Load(); fk != nil && fk.Managed {
		return "", fail(KindInvalid, "%s is an AWS managed key: it cannot be %s.", key.ARN, what)
	}
	return key.ID, nil
}

// change applies fn to the file record of a customer key.
func (k *Keyring) change(keyID, what string, fn func(fk *fileKey) error) error {
	id, err := k.customer(keyID, what)
	if err != nil {
		return err
	}
	return k.update(func(d *fileData) error {
		fk := findKey(d, id)
		if fk == nil {
			return fail(KindNotFound, "Key '%s' does not exist", k.keyARN(id))
		}
		return fn(fk)
	})
}

// SetAlias points alias ("alias/NAME") at a key, creating the alias or
// moving it. Aliases under alias/aws/ are reserved.
func (k *Keyring) SetAlias(alias, keyID string) error {
	if !aliasPattern.MatchString(alias) {
		return fail(KindInvalid, "Alias %q must begin with alias/ followed by letters, digits, '/', '_' or '-'.", alias)
	}
	if strings.HasPrefix(alias, "alias/aws/") {
		return fail(KindInvalid, "Alias %s is reserved for AWS managed keys.", alias)
	}
	id, err := k.customer(keyID, "given an alias")
	if err != nil {
		return err
	}
	return k.update(func(d *fileData) error {
		if findKey(d, id) == nil {
			return fail(KindNotFound, "Key '%s' does not exist", k.keyARN(id))
		}
		if d.Aliases == nil {
			d.Aliases = map[string]string{}
		}
		d.Aliases[alias] = id
		return nil
	})
}

// Disable disables a key: it neither encrypts nor decrypts until enabled.
func (k *Keyring) Disable(keyID string) error {
	return k.change(keyID, "disabled", func(fk *fileKey) error {
		if fk.State == StatePendingDeletion {
			return fail(KindInvalidState, "%s is pending deletion.", k.keyARN(fk.ID))
		}
		fk.State = StateDisabled
		return nil
	})
}

// Enable enables a disabled key.
func (k *Keyring) Enable(keyID string) error {
	return k.change(keyID, "enabled", func(fk *fileKey) error {
		if fk.State == StatePendingDeletion {
			return fail(KindInvalidState, "%s is pending deletion.", k.keyARN(fk.ID))
		}
		fk.State = StateEnabled
		return nil
	})
}

// Rotate gives an enabled key new material that encrypts from now on;
// every older version keeps decrypting.
func (k *Keyring) Rotate(keyID string) error {
	return k.change(keyID, "rotated on demand", func(fk *fileKey) error {
		if fk.State != StateEnabled {
			return fail(KindInvalidState, "%s is %s: only an enabled key can be rotated.", k.keyARN(fk.ID), strings.ToLower(string(fk.State)))
		}
		fk.Versions = append(fk.Versions, newVersion(k.now()))
		return nil
	})
}

// ScheduleDeletion makes a key PendingDeletion for days (7–30), after
// which it and its material are gone; it returns the deletion date.
func (k *Keyring) ScheduleDeletion(keyID string, days int) (time.Time, error) {
	if days < MinDeletionDays || days > MaxDeletionDays {
		return time.Time{}, fail(KindInvalid, "PendingWindowInDays must be between %d and %d, not %d.", MinDeletionDays, MaxDeletionDays, days)
	}
	var when time.Time
	err := k.change(keyID, "deleted", func(fk *fileKey) error {
		when = k.now().UTC().Add(time.Duration(days) * 24 * time.Hour)
		fk.State, fk.DeletionDate = StatePendingDeletion, &when
		return nil
	})
	return when, err
}

// CancelDeletion takes a key out of PendingDeletion; like KMS it is then
// disabled.
func (k *Keyring) CancelDeletion(keyID string) error {
	return k.change(keyID, "changed", func(fk *fileKey) error {
		if fk.State != StatePendingDeletion {
			return fail(KindInvalidState, "%s is not pending deletion.", k.keyARN(fk.ID))
		}
		fk.State, fk.DeletionDate = StateDisabled, nil
		return nil
	})
}
