package storage

import "context"

// Pending is an Append that has been queued for the committer.
type Pending struct {
	req *appendReq
	err error
}

// Submit queues appends for the next group commit and returns at once.
// Queue order is call order, so a caller that assigns positions under its
// own lock can Submit under that lock and Wait after releasing it.
func (db *DB) Submit(appends []Append) *Pending {
	req, err := db.encode(appends)
	if err != nil {
		return &Pending{err: err}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closing {
		return &Pending{err: ErrClosed}
	}
	if req.records == 0 {
		return &Pending{}
	}
	db.queue = append(db.queue, req)
	db.cond.Signal()
	return &Pending{req: req}
}

// Wait returns once the appends are committed (nil) or failed. If ctx ends
// first it returns ctx.Err(); the appends may still be committed.
func (p *Pending) Wait(ctx context.Context) error {
	if p.req == nil {
		return p.err
	}
	select {
	case err := <-p.req.done:
		p.req, p.err = nil, err
		return err
	case <-ctx.Done():
		select {
		case err := <-p.req.done:
			p.req, p.err = nil, err
			return err
		default:
			return ctx.Err()
		}
	}
}
