package alicloud

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/robfig/cron/v3"
)

// rootRotationStorageKey holds the schedule of the engine's own key
// rotation and its outcome. It holds no secret.
const rootRotationStorageKey = "root-rotation"

// cronParser reads rotation_schedule: the five standard fields (minute,
// hour, day of month, month, day of week), as Vault's own rotation manager
// does; times are UTC.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// rootRotationEntry is the stored root rotation schedule.
type rootRotationEntry struct {
	// RotationPeriod (seconds) and RotationSchedule (cron) are exclusive;
	// both empty means no scheduled rotation.
	RotationPeriod   int64  `json:"rotation_period,omitempty"`
	RotationSchedule string `json:"rotation_schedule,omitempty"`
	// RotationWindow (seconds, rotation_schedule only): a scheduled
	// rotation that has not succeeded this long after its time is skipped
	// for the next one. Zero: no limit.
	RotationWindow int64 `json:"rotation_window,omitempty"`
	// Disabled pauses scheduled rotation and keeps the schedule
	// (disable_automated_rotation).
	Disabled bool `json:"disable_automated_rotation,omitempty"`

	// LastRotation is the last successful rotation, scheduled or not.
	LastRotation time.Time `json:"last_rotation,omitempty"`
	// NextRotation is when the next scheduled rotation is due (zero: none).
	NextRotation time.Time `json:"next_rotation,omitempty"`

	LastError      string    `json:"last_error,omitempty"`
	LastErrorTime  time.Time `json:"last_error_time,omitempty"`
	FailedAttempts int       `json:"failed_attempts,omitempty"`
	NextAttempt    time.Time `json:"next_attempt,omitempty"`
}

func (r *rootRotationEntry) scheduled() bool {
	return r.RotationPeriod > 0 || r.RotationSchedule != ""
}

// due reports whether a scheduled rotation should run at now.
func (r *rootRotationEntry) due(now time.Time) bool {
	return r.scheduled() && !r.Disabled && !r.NextRotation.IsZero() && !now.Before(r.NextRotation) && !now.Before(r.NextAttempt)
}

// parseRotationSchedule parses a cron schedule evaluated in UTC.
func parseRotationSchedule(spec string) (*cron.SpecSchedule, error) {
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, errors.New("times are UTC; remove the time zone prefix")
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unsupported schedule %q", spec)
	}
	ss.Location = time.UTC
	// cron finds no time within five years for a day that does not exist
	// (0 0 30 2 *): such a schedule would be accepted and never rotate.
	if ss.Next(time.Now().UTC()).IsZero() {
		return nil, errors.New("the schedule never fires (no time matches it within five years)")
	}
	return ss, nil
}

// nextAfter is the first scheduled time after base (zero when nothing is
// scheduled).
func (r *rootRotationEntry) nextAfter(base time.Time) time.Time {
	switch {
	case r.RotationPeriod > 0:
		return base.Add(time.Duration(r.RotationPeriod) * time.Second)
	case r.RotationSchedule != "":
		s, err := parseRotationSchedule(r.RotationSchedule)
		if err != nil {
			return time.Time{}
		}
		return s.Next(base.UTC())
	default:
		return time.Time{}
	}
}

// addRootRotationFields adds the scheduling fields to the config path's
// fields. The names are those of Vault's automated root rotation.
func addRootRotationFields(fields map[string]*framework.FieldSchema) map[string]*framework.FieldSchema {
	add := map[string]*framework.FieldSchema{
		"rotation_period": {
			Type: framework.TypeDurationSecond,
			Description: `Rotate the engine's own AccessKey (credential_type "access_key") this often, as
config/rotate-root does (at least 60 seconds; 0 turns scheduled rotation off). Exclusive with rotation_schedule.`,
			DisplayAttrs: &framework.DisplayAttributes{Name: "Root rotation period", Group: "Root rotation"},
		},
		"rotation_schedule": {
			Type: framework.TypeString,
			Description: `Rotate the engine's own AccessKey on this cron schedule: five fields (minute hour
day-of-month month day-of-week), in UTC, e.g. "0 3 * * 0" for Sundays at 03:00. Empty turns it off.
Exclusive with rotation_period.`,
			DisplayAttrs: &framework.DisplayAttributes{Name: "Root rotation schedule", Group: "Root rotation"},
		},
		"rotation_window": {
			Type: framework.TypeDurationSecond,
			Description: `With rotation_schedule: how long after its scheduled time a rotation may still start
(at least 3600 seconds). A rotation that has not succeeded by then (Vault was down, or every attempt failed)
is skipped until the next scheduled time. 0: no limit.`,
			DisplayAttrs: &framework.DisplayAttributes{Name: "Root rotation window", Group: "Root rotation"},
		},
		"disable_automated_rotation": {
			Type: framework.TypeBool,
			Description: `Pause scheduled rotation of the engine's own key and keep the schedule; false resumes
it (a rotation that fell due meanwhile then runs at the next check, within rotation_window if one is set).
config/rotate-root still works.`,
			DisplayAttrs: &framework.DisplayAttributes{Name: "Disable automated rotation", Group: "Root rotation"},
		},
	}
	for k, v := range add {
		if _, dup := fields[k]; dup {
			panic(fmt.Sprintf("config field %q defined twice", k))
		}
		fields[k] = v
	}
	return fields
}

func readRootRotation(ctx context.Context, s logical.Storage) (*rootRotationEntry, error) {
	entry, err := s.Get(ctx, rootRotationStorageKey)
	if err != nil {
		return nil, fmt.Errorf("reading the root rotation schedule: %w", err)
	}
	r := &rootRotationEntry{}
	if entry == nil {
		return r, nil
	}
	if err := entry.DecodeJSON(r); err != nil {
		return nil, fmt.Errorf("decoding the root rotation schedule: %w", err)
	}
	return r, nil
}

func writeRootRotation(ctx context.Context, s logical.Storage, r *rootRotationEntry) error {
	entry, err := logical.StorageEntryJSON(rootRotationStorageKey, r)
	if err != nil {
		return fmt.Errorf("encoding the root rotation schedule: %w", err)
	}
	if err := s.Put(ctx, entry); err != nil {
		return fmt.Errorf("writing the root rotation schedule: %w", err)
	}
	return nil
}

// prepareRootRotation returns the schedule a config write of d produces for
// cfg (the config about to be stored), or nil when the schedule does not
// change. Input problems come back as *inputError. A config that is no
// longer an AccessKey loses its schedule, with a warning.
func (b *backend) prepareRootRotation(ctx context.Context, s logical.Storage, cfg *configEntry, d *framework.FieldData) (*rootRotationEntry, []string, error) {
	rawPeriod, periodGiven := d.GetOk("rotation_period")
	rawSchedule, scheduleGiven := d.GetOk("rotation_schedule")
	rawWindow, windowGiven := d.GetOk("rotation_window")
	rawDisabled, disabledGiven := d.GetOk("disable_automated_rotation")
	existing, err := readRootRotation(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	r := *existing
	if periodGiven {
		r.RotationPeriod = int64(rawPeriod.(int))
		if r.RotationPeriod != 0 && r.RotationPeriod < int64(time.Minute/time.Second) {
			return nil, nil, inputErrorf("rotation_period: must be at least 60 seconds, or 0 to turn scheduled rotation off")
		}
	}
	if scheduleGiven {
		r.RotationSchedule = strings.TrimSpace(rawSchedule.(string))
		if r.RotationSchedule != "" {
			if _, err := parseRotationSchedule(r.RotationSchedule); err != nil {
				return nil, nil, inputErrorf("rotation_schedule: must be a cron schedule of five fields (minute hour day-of-month month day-of-week, UTC): %v", err)
			}
		}
	}
	switch {
	case periodGiven && scheduleGiven && r.RotationPeriod != 0 && r.RotationSchedule != "":
		return nil, nil, inputErrorf("rotation_period, rotation_schedule: give one or the other, not both")
	case periodGiven && r.RotationPeriod != 0:
		r.RotationSchedule = ""
	case scheduleGiven && r.RotationSchedule != "":
		r.RotationPeriod = 0
	}
	if windowGiven {
		r.RotationWindow = int64(rawWindow.(int))
		if r.RotationWindow != 0 && r.RotationWindow < int64(time.Hour/time.Second) {
			return nil, nil, inputErrorf("rotation_window: must be at least 3600 seconds, or 0 for no limit")
		}
	}
	if r.RotationWindow != 0 && r.RotationSchedule == "" {
		if windowGiven {
			return nil, nil, inputErrorf("rotation_window: applies to rotation_schedule only (a rotation_period rotation runs whenever it is due)")
		}
		// The schedule it belonged to is gone.
		r.RotationWindow = 0
	}
	if disabledGiven {
		r.Disabled = rawDisabled.(bool)
	}

	var warnings []string
	if r.scheduled() && cfg.effectiveType() != credTypeAccessKey {
		if (periodGiven && r.RotationPeriod != 0) || (scheduleGiven && r.RotationSchedule != "") {
			field := "rotation_period"
			if r.RotationSchedule != "" {
				field = "rotation_schedule"
			}
			return nil, nil, inputErrorf("%s: only an AccessKey config (credential_type %q) can be rotated; this config uses %q", field, credTypeAccessKey, cfg.effectiveType())
		}
		r.RotationPeriod, r.RotationSchedule, r.RotationWindow = 0, "", 0
		warnings = append(warnings, fmt.Sprintf("scheduled root rotation is turned off: credential_type %q cannot be rotated", cfg.effectiveType()))
	}
	if !periodGiven && !scheduleGiven && len(warnings) == 0 {
		if !windowGiven && !disabledGiven {
			return nil, nil, nil
		}
		// A window or a pause alone leaves the next rotation where it was:
		// after a pause, one that fell due meanwhile runs at the next check.
		return &r, nil, nil
	}

	// A period counts from the last rotation (from now if there was none),
	// so a changed period applies at once; a cron schedule from now.
	r.NextRotation = time.Time{}
	now := b.now()
	switch {
	case r.RotationPeriod > 0 && !r.LastRotation.IsZero():
		r.NextRotation = r.nextAfter(r.LastRotation)
	case r.scheduled():
		r.NextRotation = r.nextAfter(now)
	}
	if !r.scheduled() {
		r.LastError, r.LastErrorTime, r.FailedAttempts, r.NextAttempt = "", time.Time{}, 0, time.Time{}
	}
	return &r, warnings, nil
}

// rootRotationResponseData adds the schedule to the config read.
func (b *backend) rootRotationResponseData(ctx context.Context, s logical.Storage, data map[string]interface{}) error {
	r, err := readRootRotation(ctx, s)
	if err != nil {
		return err
	}
	data["rotation_period"] = r.RotationPeriod
	data["rotation_schedule"] = r.RotationSchedule
	data["rotation_window"] = r.RotationWindow
	data["disable_automated_rotation"] = r.Disabled
	data["last_rotation"] = formatTime(r.LastRotation)
	data["next_rotation"] = formatTime(r.NextRotation)
	data["last_rotation_error"] = r.LastError
	data["rotation_failed_attempts"] = r.FailedAttempts
	data["next_rotation_attempt"] = formatTime(r.NextAttempt)
	return nil
}

// deleteRootRotation forgets the schedule with the config.
func deleteRootRotation(ctx context.Context, s logical.Storage) error {
	if err := s.Delete(ctx, rootRotationStorageKey); err != nil {
		return fmt.Errorf("deleting the root rotation schedule: %w", err)
	}
	return nil
}

// recordRootRotation notes a successful rotation (config/rotate-root or the
// schedule) and sets the next one. scheduledFor is the time the rotation was
// due (zero for a manual one): a period then counts from it when the run
// was on time, as for static roles. The caller holds configMu.
func (b *backend) recordRootRotation(ctx context.Context, s logical.Storage, scheduledFor time.Time) error {
	r, err := readRootRotation(ctx, s)
	if err != nil {
		return err
	}
	now := b.now()
	r.LastRotation = now
	r.LastError, r.LastErrorTime, r.FailedAttempts, r.NextAttempt = "", time.Time{}, 0, time.Time{}
	r.NextRotation = r.nextAfter(now)
	if r.RotationPeriod > 0 && !scheduledFor.IsZero() && now.Sub(scheduledFor) <= scheduleSlack {
		if anchored := r.nextAfter(scheduledFor); anchored.After(now) {
			r.NextRotation = anchored
		}
	}
	return writeRootRotation(ctx, s, r)
}

// rootRotationTask is the periodic job of scheduled root rotation.
func (b *backend) rootRotationTask(ctx context.Context, req *logical.Request) error {
	return b.runRootRotation(ctx, req.Storage)
}

// runRootRotation rotates the engine's key when the schedule says so, with
// the code of config/rotate-root, and backs off after a failure.
func (b *backend) runRootRotation(ctx context.Context, s logical.Storage) error {
	r, err := readRootRotation(ctx, s)
	if err != nil {
		return err
	}
	now := b.now()
	if !r.due(now) {
		return nil
	}
	b.configMu.Lock()
	defer b.configMu.Unlock()
	// Re-read under the lock: a config write or a manual rotation may have
	// moved the schedule meanwhile.
	if r, err = readRootRotation(ctx, s); err != nil {
		return err
	}
	now = b.now()
	if !r.due(now) {
		return nil
	}
	if r.RotationWindow > 0 && now.Sub(r.NextRotation) > time.Duration(r.RotationWindow)*time.Second {
		missed := r.NextRotation
		r.NextRotation = r.nextAfter(now)
		r.LastError = fmt.Sprintf("the rotation scheduled for %s did not happen within rotation_window (%ds); skipped until %s",
			formatTime(missed), r.RotationWindow, formatTime(r.NextRotation))
		r.LastErrorTime = now
		r.FailedAttempts, r.NextAttempt = 0, time.Time{}
		b.Logger().Warn("scheduled root rotation skipped: its window passed", "scheduled_for", missed, "next_rotation", r.NextRotation)
		return writeRootRotation(ctx, s, r)
	}
	res, err := b.rotateRoot(ctx, s)
	if err != nil {
		if errors.Is(err, errSimulatedCrash) {
			return err
		}
		err = withPermissionHint(featureRotateRoot, err)
		r.FailedAttempts++
		r.LastError = err.Error()
		r.LastErrorTime = now
		r.NextAttempt = now.Add(retryDelay(r.FailedAttempts))
		b.Logger().Error("scheduled root rotation failed", "attempt", r.FailedAttempts, "next_attempt", r.NextAttempt, "error", err)
		if werr := writeRootRotation(ctx, s, r); werr != nil {
			return errors.Join(err, werr)
		}
		return fmt.Errorf("scheduled root rotation: %w", err)
	}
	for _, w := range res.Warnings {
		b.Logger().Warn("scheduled root rotation: " + w)
	}
	if err := b.recordRootRotation(ctx, s, r.NextRotation); err != nil {
		return err
	}
	b.Logger().Info("scheduled root rotation done", "access_key_id", res.AccessKeyID, "old_access_key_id", res.OldAccessKeyID)
	return nil
}
