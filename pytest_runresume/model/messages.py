"""Every user-visible error and problem text of the model and the wire, as data.

Tests match on these constants, never on copies of the wording.
"""

UNKNOWN_OPERATION = "unknown GraphQL operation {name!r}: the fake W&B backend has no handler for it"
MALFORMED_GRAPHQL = "malformed GraphQL request: {detail}"
MALFORMED_BODY = "malformed request body for {what}: {detail}"
UNAUTHORIZED = "missing or wrong API key for the fake W&B backend"
UNEXPECTED_REQUEST = "unexpected request {method} {path}: the fake W&B backend does not serve it"
NO_SUCH_RUN = "run {path!r} does not exist"
OFFSET_GAP = (
    "file_stream for {path} wrote {file} at offset {offset} but only {have} lines exist; "
    "lines {have}..{gap_end} were never sent"
)
LINE_REWRITTEN = "file_stream for {path} rewrote line {index} of {file} with different content"
FILE_STREAM_NO_RUN = "file_stream for {path}, a run that was never created with UpsertBucket"
BAD_RUN_ID = "bad run id {run_id!r}: {why}"
BAD_RESUME_MODE = "bad resume mode {mode!r}: expected one of 'must', 'allow', 'never', 'auto' or None"
RESUME_MUST_MISSING = "resume='must' but run ({run_id}) does not exist (R02)"
RESUME_NEVER_EXISTS = "resume='never' but run ({run_id}) already exists (R05)"
#: ``Run.update_state`` refused (R52); W&B's server says "invalid state transition", and W&B's own
#: system test (``test_run_update_state_failure``) matches on those words.
INVALID_STATE_TRANSITION = "invalid state transition: cannot update run {path} from {current!r} to {state!r} (R52)"
BODY_TOO_LARGE = (
    "request body of {method} {path} is larger than the fake W&B backend's limit of {limit} bytes (max_body)"
)
INFLATED_TOO_LARGE = (
    "request body of {method} {path} is larger than the fake W&B backend's limit of {limit} bytes "
    "after gzip decompression ({name})"
)
NETWORK_BLOCKED = (
    "code under test tried to reach {host}:{port} ({method}); the network guard refused it: "
    "only the fake W&B backend on loopback may be reached"
)
CONCURRENT_WRITERS = "two processes wrote run {path} at the same time (R16): {first} and {second}; {evidence}"
RUN_DELETED = (
    "run {path} was deleted: a run id can't be reused once that run has been deleted (R25; the docs give"
    " no error text, this one is the fake's)"
)
UNDELETE_EXPIRED = "run {path} was deleted {days:.1f} days ago: runs can be undeleted only for 7 days (R26)"
REWIND_NO_RUN = "cannot rewind run {path}: it does not exist (resume_from names a run of this project, R47)"
BAD_PROJECT_NAME = "bad project name {name!r}: {why}"
NOT_DELETED = "run {path!r} is not a deleted run"
LINE_GAP_LIMIT = (
    "{file} offset {offset} would leave {gap} more lines unsent; the run's {file} already has {held} and"
    " at most {limit} are kept (max_line_gap)"
)
STORAGE_LIMIT = (
    "{what} for {path} would make the fake W&B backend hold {size} bytes {scope}; the limit is {limit} bytes ({name})"
)
TOO_MANY_RUNS = "cannot create run {path}: the fake W&B backend holds at most {limit} runs (max_runs)"
TOO_MANY_SWEEPS = "cannot create a sweep in {path}: the fake W&B backend holds at most {limit} sweeps (max_sweeps)"
TOO_MANY_AGENTS = (
    "cannot register an agent for sweep {path}: the fake W&B backend holds at most {limit} agents (max_agents)"
)
CLOCK_LIMIT = "the backend clock cannot be moved by {seconds!r}: {why}"
INTERNAL_ERROR = (
    "internal error of the fake W&B backend on {method} {path}: {error} (a bug of pytest-runresume, please report it)"
)
SERVER_BUSY = (
    "the fake W&B backend holds {held} bytes of request bodies; {limit} bytes at once is its limit"
    " (max_inflight_bytes); retry"
)
