// Package awsfile reads and writes the AWS shared config and credentials
// files (~/.aws/config, ~/.aws/credentials) without ever damaging them.
//
// Reading follows the rules of the AWS CLI's parser (Python's configparser as
// botocore uses it): full-line comments start with '#' or ';', keys are
// "key = value" or "key: value" (names are case-insensitive), a line indented
// deeper than its key continues that key's value (nested values such as
// "s3 =\n  max_concurrent_requests = 10"), duplicate sections and duplicate
// keys are errors, and an inline "# ..." is part of the value. A file the AWS
// CLI would refuse (including an indented line under "key =" without its own
// '=') is reported as a *ParseError (errors.Is(err, ErrMalformed)) naming the
// file and the line, and is never rewritten. Two rare files the AWS CLI reads
// are refused too, to stay on the safe side: old Mac line endings (a lone
// carriage return) and a second [DEFAULT] section.
//
// Writing changes only the profiles asked for. The file is kept as a list of
// its original lines; a set key is rewritten in place (its spacing and
// spelling kept), a new key is appended to the end of its section, a new
// section is appended to the end of the file after one blank line, and a
// deleted profile loses its section. Every other byte — other profiles,
// comments, blank lines, order, line endings — stays as it was. Each write:
//
//   - follows a symlinked file (or folder) and replaces the file at its end
//     (the link stays), under the symlink rule below;
//   - opens the target's folder once and does everything else relative to
//     that descriptor (internal/atomicfile.Dir), so the folder cannot be
//     swapped for a symlink half way;
//   - takes an exclusive lock (flock on the descriptor) on "<file>.lock"
//     next to the target, waiting at most File.LockTimeout or until the
//     context ends, and reads the file again under that lock, so concurrent
//     writers of different profiles never lose each other's changes;
//   - writes a temporary file in the target's folder, fsyncs it, sets mode
//     0600 (an existing file's mode is only ever tightened), renames it over
//     the target and fsyncs the folder, so a crash leaves the old file or the
//     new one and never a mix; missing folders are created 0700. Temporary
//     files left by a killed writer are never read and are removed by the
//     next writer once they are a minute old.
//
// # Files rolehop did not make: root, sudo and other users
//
// rolehop may run as root on a user's ~/.aws (sudo, a container with the
// user's folder mounted), and a user may keep the files in a folder another
// user can write. The rules, checked on every read and write:
//
//   - A symlink made by the process's own user or by root is followed. A
//     symlink made by any other user is followed only when what it leads to
//     (for a file still to be created: the nearest existing folder on its
//     way) belongs to that same user; otherwise the path is refused
//     (ErrUnsafePath) with one line naming the link and both owners. So
//     `sudo rolehop login` follows alice's ~/.aws/credentials link into
//     alice's dotfiles but never to /etc/shadow, and a link planted in a
//     shared folder never leads to a file of the user running rolehop.
//     (The alternative, refusing to work on another user's folder at all,
//     would break the container case; this rule keeps it.)
//   - Only regular files are read, written or used as the lock: a FIFO, a
//     device (AWS_SHARED_CREDENTIALS_FILE=/dev/null), a socket or a folder
//     is refused (ErrNotRegular) with one line saying to point the path at
//     a regular file, and is left as it was. Opens never block (O_NONBLOCK,
//     then fstat), so a FIFO cannot hang rolehop.
//   - The lock file is opened without following a symlink planted under its
//     name (refused, as is a lock file with other hard links), and root
//     gives it the folder's owner with fchown on the open descriptor, never
//     chown by path. A new credentials file gets the folder's owner and a
//     replaced one keeps its own, the same way.
//
// Errors name the file and never contain a value (values are secrets).
//
// # Keys written for temporary credentials
//
// CredentialValues builds the keys for a set of credentials:
// aws_access_key_id, aws_secret_access_key, aws_session_token and, for
// credentials that expire, x_security_token_expires (RFC 3339, UTC). The
// expiry key is the one aws-vault and saml2aws write, so tools that already
// look for it (shell prompts, saml2aws itself) keep working; the AWS CLI and
// the SDKs ignore keys they do not know, so it is harmless to them. The
// alternative spelling aws_expiration is read by nothing in the AWS
// toolchain either and is not written.
package awsfile
