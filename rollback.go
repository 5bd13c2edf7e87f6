package alicloud

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

// walRollback undoes the cloud-side work of an operation that did not finish
// (the process died, or its own cleanup failed). Vault calls it for WAL
// entries older than walRollbackMinAge; an error keeps the entry for the
// next run.
func (b *backend) walRollback(ctx context.Context, req *logical.Request, kind string, data interface{}) error {
	return withPermissionHint(walFeature(kind), b.walRollbackKind(ctx, req, kind, data))
}

// walRollbackKind dispatches a WAL entry by its kind.
func (b *backend) walRollbackKind(ctx context.Context, req *logical.Request, kind string, data interface{}) error {
	switch kind {
	case walKindRAMUser:
		var w walRAMUser
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		return b.walRollbackRAMUser(ctx, req.Storage, w)
	case walKindRolePolicy:
		var w walRolePolicy
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		b.Logger().Info("rolling back a custom policy whose role write did not finish", "policy", w.PolicyName, "role", w.RoleName)
		return b.rollbackRolePolicy(ctx, req, w)
	case walKindRolePolicyVersion:
		var w walRolePolicy
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		b.Logger().Info("rolling back a custom policy version whose role write did not finish", "policy", w.PolicyName, "role", w.RoleName)
		return b.rollbackPolicyVersion(ctx, req, w)
	case walKindStaticKey:
		var w walStaticKey
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		return b.rollbackStaticKey(ctx, req.Storage, w)
	case walKindRotateRoot:
		var w walRotateRoot
		if err := decodeWAL(data, &w); err != nil {
			return err
		}
		b.Logger().Info("rolling back a root rotation that did not finish", "user", w.UserName)
		return b.rollbackRotateRoot(ctx, req.Storage, w)
	default:
		return fmt.Errorf("unknown WAL entry kind %q", kind)
	}
}

// decodeWAL converts WAL data (a JSON-decoded map) into out.
func decodeWAL(data interface{}, out interface{}) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encoding WAL data: %w", err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decoding WAL data: %w", err)
	}
	return nil
}

// deleteWAL removes a WAL entry whose work is done; a failure only means the
// rollback later finds nothing to do.
func (b *backend) deleteWAL(ctx context.Context, s logical.Storage, walID string) {
	if err := framework.DeleteWAL(ctx, s, walID); err != nil {
		b.Logger().Warn("removing a WAL entry failed; the rollback will find nothing to do", "error", err)
	}
}

// deleteWALs removes WAL entries whose work is done.
func (b *backend) deleteWALs(ctx context.Context, s logical.Storage, ids []string) {
	for _, id := range ids {
		b.deleteWAL(ctx, s, id)
	}
}
