"""Settings: every option once, with its default and help. The CLI and the server read them from
here; each can also be set as a `LOCALVISION_<NAME>` environment variable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .urls import redact


def default_model_dir() -> Path:
    """The model store under the user's data directory (e.g. ~/.local/share/localvision/models)."""
    return Path(user_data_dir("localvision")) / "models"


def default_converter_dir() -> Path:
    """Converter environments under the user's cache (e.g. ~/.cache/localvision/converters)."""
    return Path(user_cache_dir("localvision")) / "converters"


def default_db_url() -> str:
    """SQLite file under the user's data directory (e.g. ~/.local/share/localvision/history.db)."""
    return "sqlite:///" + str(Path(user_data_dir("localvision")) / "history.db")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOCALVISION_", extra="ignore")

    # --- model ---
    model: str = Field(
        "auto",
        description="Model: auto, a registry model (resnet18, efficientnet_lite0, "
        "mobilenet_v3_large, resnet50) or one in the model store.",
    )
    models: str = Field(
        "",
        description="Models the service loads, comma-separated (default: --model); the first "
        "answers when a request names none.",
    )
    weights: Path | None = Field(
        None,
        description="A state-dict file to use instead of the model's published weights (with "
        "--models: the first's).",
    )
    labels: Path | None = Field(
        None,
        description="A label file for the model (with --models: the first): one label per line, "
        "JSON index -> label, or JSON language -> list.",
    )
    model_dir: Path = Field(
        default_factory=default_model_dir,
        description="The model store: one folder per model (weights, manifest, exports).",
    )
    offline: bool = Field(False, description="Never download weights; use local files only.")
    # A cache, not data: each environment there (a few GB of torch and a converter that cannot
    # share localvision's own) is remade by `export --setup-converter` whenever it is missing.
    converter_dir: Path = Field(
        default_factory=default_converter_dir,
        description="Where export's converter environments live (--format tflite: litert/).",
    )
    backend: Literal["auto", "torch", "openvino", "onnxruntime"] = Field(
        "auto", description="Inference backend: auto (openvino on the CPU), torch, onnxruntime."
    )
    device: Literal["cpu", "cuda"] = Field("cpu", description="Device to run the model on.")
    precision: Literal["auto", "fp32", "bf16", "fp16", "int8"] = Field(
        "auto",
        description="auto: the fastest precision whose check against fp32 passed (int8, then "
        "bf16 on a CPU with native bf16, then fp16 on CUDA), else fp32. A precision named runs "
        "as named or is refused.",
    )
    device_decode: bool | None = Field(
        None,
        description="Decode JPEGs on the model's device (nvJPEG; torch backend). Default: on "
        "with --device cuda.",
    )
    # 600 s: a ResNet-50 export takes under a minute on two cores; a hung converter must not
    # hold a starting service for ever.
    export_timeout_s: float = Field(
        600.0, gt=0, description="Longest a model export (at first start) may take."
    )
    top_k: int = Field(3, ge=1, description="How many labels to return per image.")
    lang: Literal["en", "zh"] = Field(
        "en",
        description="Language of the labels: en or zh (the API follows the browser's "
        "Accept-Language unless ?lang= says).",
    )
    # 0.2: the real photos the tests pin are right above it (a tie of two cat breeds at 0.37,
    # a rocket at 0.26) and a wrong guess with no class of its own falls under it (an astronaut
    # photo: "football helmet" at 0.17).
    min_confidence: float = Field(
        0.2, ge=0, le=1,
        description="An answer whose top label is less probable than this is marked uncertain "
        "(not sure); its top guesses are still given.",
    )  # fmt: skip
    groups: bool = Field(
        False,
        description="Add the common groups (dog, bird, car, ...) with the summed probability of "
        "their classes.",
    )
    text: bool = Field(
        False,
        description="Also read the text in each photo (Chinese and English): its lines, each "
        "with its confidence and box.",
    )
    # 16 fills both cores' SIMD lanes without adding much latency on a 2-core machine.
    batch_size: int = Field(16, ge=1, le=1024, description="Images per model call.")

    # --- images ---
    # 50 MP covers any phone or DSLR photo (a 48 MP phone is ~8000x6000) and refuses bombs.
    max_pixels: int = Field(50_000_000, ge=1, description="Largest image, in pixels.")
    max_upload_mb: float = Field(10.0, gt=0, description="Largest upload per image, in MB.")
    exact_decode: bool = Field(
        False, description="Decode JPEGs at full size (no DCT-domain downscaling)."
    )
    # 0.05: every top-1 change seen between reduced and full decodes had a margin under 0.025.
    recheck_margin: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Fast decode: an answer whose top two probabilities are closer than this is "
        "decoded again in full. 0: never.",
    )

    # --- reading text in photos (text/: `classify --text`, `?text=true`) ---
    # PP-OCR's Chinese + English models, copied from the rapidocr wheel into the store at first
    # use (nothing is downloaded); another name is a package put there by hand.
    text_model: str = Field(
        "ppocr-v6-small", description="The text reader's package in the store (text/package.py)."
    )
    # 0.5 is rapidocr's own cut-off: below it, lines are mostly noise read in textures.
    text_min_confidence: float = Field(
        0.5, ge=0, le=1, description="Text lines read with less confidence than this are dropped."
    )
    # On: a line read upside down (a photo turned over) is turned and read. Its classifier also
    # turns some upright lines that look alike both ways ("出口 EXIT"): off reads upright text
    # better (bench/ocr_bench.py measures both), and turned photos worse.
    text_turn_lines: bool = Field(
        True, description="Turn lines of text that are upside down before reading them."
    )
    # 0: ONNX Runtime's default, one thread per core; the reader runs one photo at a time.
    text_threads: int = Field(
        0, ge=0, le=256, description="Threads the text reader uses per photo (0: every core)."
    )

    # --- video and cameras (streams/) ---
    # 2 per second: a label that lasts half a second is still seen, and a 2-core machine keeps
    # up with a live camera with room to spare (every frame is 25-30 per second).
    video_fps: float = Field(
        2.0, gt=0, description="Video: frames sampled per second of video (unless --every)."
    )
    video_every: int | None = Field(
        None, ge=1, description="Video: sample every Nth frame instead (1: every frame)."
    )
    video_smoothing: Literal["consensus", "average", "off"] = Field(
        "consensus",
        description="Video: how sampled answers are smoothed: consensus (a label when enough of "
        "the recent ones agree), average (moving average of probabilities) or off.",
    )
    # 5 and 3: one odd frame (or two) in five never flips the label, and a real change is
    # taken after three samples (1.5 s at 2 per second).
    video_window: int = Field(
        5, ge=1, le=1000, description="Video: how many recent samples smoothing looks at."
    )
    video_agree: int = Field(
        3, ge=1, le=1000,
        description="Video, consensus: how many of the window's samples must agree on a label.",
    )  # fmt: skip
    stream_timeout_s: float = Field(
        10.0, gt=0,
        description="Live streams: seconds to wait when opening, and without a frame before "
        "reconnecting (the watchdog).",
    )  # fmt: skip
    stream_reconnects: int = Field(
        10, ge=0,
        description="Live streams: failed reconnects in a row before giving up (0: never "
        "reconnect).",
    )  # fmt: skip
    stream_backoff_s: float = Field(
        0.5, gt=0, description="Live streams: the first wait before reconnecting, doubled each try."
    )
    stream_backoff_max_s: float = Field(
        10.0, gt=0, description="Live streams: the longest wait between reconnects."
    )
    rtsp_transport: Literal["tcp", "udp"] = Field(
        "tcp", description="RTSP: carry the video over TCP (works through NAT) or UDP."
    )

    # --- server ---
    host: str = Field("127.0.0.1", description="Address the web service binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port the web service listens on.")
    db: str = Field(
        default_factory=default_db_url,
        description="The database for history, users, keys and sessions: an SQLite file "
        "(sqlite:///PATH) or PostgreSQL (postgresql+psycopg://USER:PASSWORD@HOST/DATABASE).",
    )
    # 8: on two cores batch 8 runs at about batch 16's img/s, and the working memory OpenVINO
    # keeps for a batch of 16 (60-110 MB, measured) is saved.
    max_batch: int = Field(8, ge=1, le=256, description="Most requests merged into one model call.")
    # 5 ms is below one batch-1 inference, so a lone request waits little for company.
    max_wait_ms: float = Field(5.0, ge=0, description="Longest a request waits for a batch to fill.")
    queue_size: int = Field(256, ge=1, description="Images waiting for the model before 503.")
    max_zip_members: int = Field(1000, ge=1, description="Most members read from one ZIP.")
    max_zip_mb: float = Field(200.0, gt=0, description="Most uncompressed bytes read from one ZIP.")

    # --- request limits and slow clients (enforced as the bytes arrive: server/limits.py) ---
    # 200 MB lets the browser UI send its chunks of 16 photos even when each is at the 10 MB
    # limit; 64 x 10 MB (640 MB) would let one request hold most of a small machine's memory.
    max_request_mb: float = Field(
        200.0, gt=0,
        description="Largest request body, in MB (a ZIP upload: max_zip_mb; /predict: one image).",
    )  # fmt: skip
    # 16 MB: JSON carries an image base64-encoded (4/3 of its size), so one photo at the 10 MB
    # upload limit (13.4 MB) or a few ordinary 2-4 MB ones fit. A JSON body is parsed whole with
    # the interpreter held (about 3 ms a MB here), while binary bytes are only sliced; batches
    # belong in the binary extension (tritonclient's default), which max_request_mb bounds.
    max_json_mb: float = Field(
        16.0, gt=0,
        description="Largest KServe v2 JSON request, or JSON header of a binary one, in MB.",
    )  # fmt: skip
    max_parts: int = Field(64, ge=1, description="Most parts (files and fields) in one upload.")
    max_field_kb: float = Field(64.0, gt=0, description="Largest non-file form field, in KB.")
    # 16 KB is h11's own default and ten times what any browser sends.
    max_header_kb: float = Field(
        16.0, gt=0, description="Largest request line + headers, in KB."
    )
    header_timeout_s: float = Field(
        10.0, gt=0, description="Longest a client may take to send its request line and headers."
    )
    body_timeout_s: float = Field(
        30.0, gt=0,
        description="Longest a client may take to send a request body, unless it keeps up "
        "min_body_rate_kb.",
    )  # fmt: skip
    # A real upload on any network moves far faster; a slowloris trickle does not, and is cut off.
    min_body_rate_kb: float = Field(
        64.0, ge=0, description="Upload speed (KB/s, on average) that may outlast body_timeout_s."
    )
    keep_alive_s: int = Field(
        5, ge=1, description="How long an idle keep-alive connection stays open."
    )
    request_timeout_s: float = Field(
        30.0, gt=0, description="Longest a request waits for the model before a 503 timeout."
    )

    # --- auth ---
    # auto follows TorchServe's lesson: a service only this machine can reach needs no sign-in;
    # one reachable from the network must not be open by accident.
    auth: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Require an API key or sign-in: auto (on when the host is not loopback), "
        "on, off.",
    )
    session_days: float = Field(7.0, gt=0, description="How long a web sign-in lasts, in days.")
    # 2: each check is one Argon2id verification holding 64 MiB (pwdlib's recommended
    # parameters: 64 MiB, 3 passes, 4 lanes), so 2 at once cap sign-in at 128 MiB however many
    # arrive. Its 4 lanes already keep a small machine's cores busy: on 2 cores, 1 or 2 at once
    # checked about 6 a second and 4 at once fewer (measured), so more would sign nobody in sooner.
    password_checks: int = Field(
        2, ge=1,
        description="Most sign-in password checks (Argon2id, 64 MiB of memory each) run at once; "
        "more sign-ins wait for one (password_check_wait_s), then get 503 sign_in_busy.",
    )  # fmt: skip
    # 10 s: the queue drains about 6 checks a second on 2 cores, so 10 s lets in a person who
    # signs in behind a burst of ~60; past that they are told when to come back, not kept hanging.
    password_check_wait_s: float = Field(
        10.0, gt=0,
        description="Longest a sign-in waits for a free password check before a 503 "
        "sign_in_busy with Retry-After.",
    )  # fmt: skip

    # --- which sites may talk to the service (server/origin.py) ---
    allowed_hosts: str = Field(
        "",
        description="More host names the service answers to, comma-separated (* for any). "
        "Loopback names and the bound address are always allowed.",
    )
    cors_origins: str = Field(
        "",
        description="Web origins (e.g. https://app.example) allowed to call the API from their "
        "pages, comma-separated. Other sites' pages may not post to it.",
    )

    # --- rate limits and logs ---
    # 600/minute is ten a second, sustained, from one client: a person using the UI never gets
    # near it; a script classifying a folder one request at a time should batch (ZIP or several
    # files per request) or be given its own, higher limit.
    rate_limit: str = Field(
        "600/minute",
        description="Requests per client (the signed-in user or key owner, else the address) to "
        "/api, /predict, /v2/models and /predictions, e.g. 60/minute or 10/second;600/minute; "
        "off for no limit.",
    )
    # auto: a person at a terminal reads text; a pipe, a file or a log collector gets JSON.
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description="Server log lines: auto (text when stderr is a terminal, else json), json "
        "(one object per line) or text.",
    )
    access_log: bool = Field(True, description="Log one line per HTTP request.")

    # --- scale out on Ray (localvision/scale/) ---
    ray: bool = Field(
        False,
        description="Run on a Ray cluster: serve as a Ray Serve application, classify as a Ray "
        "Data job (needs the ray extra).",
    )
    ray_address: str = Field(
        "",
        description="The Ray cluster to join (auto, or ray://head:10001); empty: start a local "
        "one for this command.",
    )
    # 2: two replicas keep answering while one is busy or restarts. Left unset, a local
    # cluster runs as many as its free CPUs hold, at least one (scale.sized); set, it is kept.
    replicas: int = Field(
        2, ge=1, description="With --ray: replicas serving (serve) or classifier actors (classify)."
    )
    autoscale: str = Field(
        "",
        description="With --ray: MIN:MAX replicas (or actors), scaled with the load, instead of "
        "--replicas.",
    )
    # 1: OpenVINO runs a batch on every core it sees anyway; 0.5 packs two replicas per core
    # for a small model (the tests' two replicas on a 2-CPU cluster).
    ray_cpus_per_replica: float = Field(
        1.0, gt=0, description="CPUs Ray reserves for each replica or actor (fractional: 0.5)."
    )

    # --- the database at start (dbwait.py) ---
    # 30 s: a PostgreSQL started beside the service (compose, a booting machine) accepts
    # connections within a few seconds; one that takes longer than half a minute needs a person.
    db_wait_s: float = Field(
        30.0, ge=0,
        description="How long serve waits at start for a database server (--db postgresql://...) "
        "that cannot be reached yet, retrying with backoff, before it exits; 0: do not wait.",
    )  # fmt: skip

    # --- watched folders and photo libraries (streams/watch.py, sorting.py, xmp.py) ---
    watch_existing: bool = Field(
        False, description="watch: also classify the images already in the folder when it starts."
    )
    # 1 s: a camera, a browser download or a copy over USB writes far faster than one pause of a
    # second; a slower writer (a network share) wants more, or watch_polling.
    watch_settle_s: float = Field(
        1.0, gt=0,
        description="watch: a new file is classified once its size and modification time have "
        "not changed for this many seconds.",
    )  # fmt: skip
    watch_polling: bool = Field(
        False,
        description="watch: look for new files by polling instead of the system's file events "
        "(for network shares, whose writes from other machines raise no events here).",
    )
    sort_into: Path | None = Field(
        None,
        description="Put each classified image into a folder per top label under this folder "
        "(\"not sure\" ones into their own).",
    )
    sort_mode: Literal["link", "copy", "move"] = Field(
        "link",
        description="How --sort-into puts an image there: link (a hard link, a symlink across "
        "filesystems), copy or move.",
    )
    write_xmp: bool = Field(
        False,
        description="Write the labels as keywords into an XMP sidecar next to each image, "
        "merged into one already there (digiKam, darktable, Lightroom); with --text, the text "
        "read in it as the caption (dc:description).",
    )
    xmp_sidecar: Literal["photo.jpg.xmp", "photo.xmp"] = Field(
        "photo.jpg.xmp",
        description="The sidecar's name: photo.jpg.xmp (darktable, digiKam) or photo.xmp "
        "(Lightroom, Capture One).",
    )

    # --- the container image (Containerfile; first_start.py) ---
    builtin_model_dir: Path | None = Field(
        None,
        description="A read-only model store looked in after --model-dir (the container "
        "image's baked-in models); --model-dir wins a name that is in both.",
    )
    admin_password_file: Path | None = Field(
        None,
        description="With auth on and no users yet: create the user admin with the password "
        "in this file (e.g. a container secret).",
    )
    api_key_file: Path | None = Field(
        None,
        description="With auth on: when this file does not exist, make an API key for admin "
        "and write it there (mode 0600) at start.",
    )
    # --- cameras watched by the service (POST /api/v1/streams: streams/cameras.py) ---
    # 4: each camera is a decoding thread (a 1080p H.264 stream takes a good part of a core)
    # and one frame in flight; a 2-core machine still answers photos with four watched.
    max_streams: int = Field(
        4, ge=0, le=64, description="Cameras the service may watch at once (0: none)."
    )
    stream_webhook_url: str = Field(
        "",
        description="Streams: POST a JSON event to this http(s) URL when a segment of one of a "
        "stream's labels starts (empty: no webhook).",
    )
    stream_webhook_secret: str = Field(
        "",
        description="Streams: sign each webhook with this secret: X-Localvision-Signature: "
        "t=<unix seconds>,v1=<HMAC-SHA256 of \"<t>.<body>\">; localvision.webhooks.verify "
        "checks it.",
    )

    # --- training: `localvision train` and the Teach page (training/) ---
    train_mode: Literal["head", "finetune", "full"] = Field(
        "head",
        description="train: head (a new last layer on features computed once: seconds), "
        "finetune (the last stages too, with augmentation: minutes) or full (every layer).",
    )
    # None: per mode (training/fit.py DEFAULTS): head 40, finetune 12, full 12. A head epoch
    # over cached features takes milliseconds; a finetune epoch runs the whole network.
    train_epochs: int | None = Field(
        None, ge=1, le=1000,
        description="train: most epochs (default: 40 for head, 12 for finetune and full); "
        "early stopping may end sooner.",
    )  # fmt: skip
    train_seed: int = Field(
        0, ge=0, description="train: the seed of the split, the augmentation and the weights."
    )
    # 0.2: the usual hold-out; every class keeps at least one validation image anyway.
    train_val_fraction: float = Field(
        0.2, gt=0, lt=1,
        description="train: the share of each class held out for validation when DATA has no "
        "val/ folder.",
    )  # fmt: skip
    train_lr: float | None = Field(
        None, gt=0, le=10,
        description="train: the peak learning rate (default: 0.003 for head, 0.001 for "
        "finetune, 0.0003 for full).",
    )  # fmt: skip
    train_optimizer: Literal["adamw", "sgd"] = Field(
        "adamw", description="train: the optimizer: adamw, or sgd (momentum 0.9, nesterov)."
    )
    # 0.1: the value the ImageNet recipes use (torchvision's, timm's); it keeps a model trained
    # on a few photos from being certain of everything.
    train_label_smoothing: float = Field(
        0.1, ge=0, lt=1, description="train: label smoothing of the training loss."
    )
    train_patience: int = Field(
        8, ge=1,
        description="train: stop after this many epochs without a better validation accuracy "
        "(or loss, at equal accuracy); the best epoch is kept.",
    )  # fmt: skip
    # 1: the service's training child must leave the other core to the service.
    train_threads: int = Field(
        1, ge=1, le=256, description="train: CPU threads torch may use."
    )
    train_progress: Literal["rich", "jsonl", "none"] = Field(
        "rich",
        description="train: progress as a bar (rich, on stderr), one JSON object per line on "
        "stdout (jsonl) or none.",
    )

    # --- corrections: POST /api/v1/feedback (server/teach_routes.py, training/corrections.py) ---
    # 200 a day: a person correcting results by hand sends a few dozen; 200 still lets one work
    # through a folder, while one script (or key) can add at most 200 x max_upload_mb a day
    # (2 GB at 10 MB; about 0.6 GB of phone photos) instead of the request rate's ~6 GB a minute.
    feedback_max_photos_per_user: int = Field(
        200, ge=1,
        description="Corrections (POST /api/v1/feedback) one user may store in any 24 hours, "
        "across every model; more: 429 too_many_corrections with Retry-After. Admins, and "
        "everyone with auth off, are not limited by it.",
    )  # fmt: skip
    # 1000: a Teach project of dozens of classes with 20-50 photos each, more than head or
    # finetune training needs; it bounds one model's corrections on disk to 1000 x max_upload_mb
    # (10 GB at 10 MB; about 3 GB of phone photos). Photos added on the Teach page don't count.
    feedback_max_photos_per_model: int = Field(
        1000, ge=1,
        description="Corrections one model's Teach project may hold, from all users; when it "
        "is full: 507 corrections_full until an admin deletes some.",
    )  # fmt: skip

    @field_validator("stream_webhook_url")
    @classmethod
    def _check_webhook(cls, value: str) -> str:
        value = value.strip()
        if value and not value.lower().startswith(("http://", "https://")):
            # redacted: the error is printed, and a webhook URL may carry its token
            raise ValueError(f"the webhook must be an http:// or https:// URL, not "
                             f"{redact(value)!r}")  # fmt: skip
        return value

    @field_validator("autoscale")
    @classmethod
    def _parse_autoscale(cls, value: str) -> str:
        value = value.strip()
        if value:
            low, sep, high = value.partition(":")
            if not (sep and low.isdigit() and high.isdigit()) or not 1 <= int(low) <= int(high):
                raise ValueError(f"expected MIN:MAX with 1 <= MIN <= MAX, e.g. 1:4, not {value!r}")
        return value

    @property
    def autoscale_range(self) -> tuple[int, int] | None:
        """(MIN, MAX) from --autoscale, or None for a fixed number of replicas."""
        if not self.autoscale:
            return None
        low, _, high = self.autoscale.partition(":")
        return int(low), int(high)

    @field_validator("rate_limit")
    @classmethod
    def _parse_rate_limit(cls, value: str) -> str:
        from limits import parse_many

        value = value.strip()
        if value.lower() in ("", "off", "none"):
            return "off"
        parse_many(value)  # ValueError: couldn't parse rate limit string '...'
        return value

    @property
    def model_names(self) -> tuple[str, ...]:
        """The models to serve, the default first."""
        named = tuple(m.strip() for m in self.models.split(",") if m.strip())
        return named or (self.model,)

    @property
    def allowed_host_names(self) -> tuple[str, ...]:
        return tuple(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip())

    @property
    def decodes_on_device(self) -> bool:
        return self.device == "cuda" if self.device_decode is None else self.device_decode

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)  # MB here means MiB, as in file browsers


def torch_home() -> Path:
    """Where torch keeps its hub cache; computed the way torch does, without importing torch."""
    xdg = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    return Path(os.environ.get("TORCH_HOME", os.path.join(xdg, "torch")))
