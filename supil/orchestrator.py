"""The essay job over gRPC: plans the stages from the spec, runs, skips or resumes each, and assembles."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from services.runtime.artifacts import ArtifactStore, atomic_write_text
from services.runtime.corpus import Document, read_corpus, write_corpus
from supil.client import error_text, follow_job, open_channel
from supil.manifest import JobManifest, OutputRecord, StageRecord
from supil.metrics import section_metrics
from supil.report import ReportData, SectionReport, render_report
from supil.spec import EssaySpec
from supil.v1 import (
    cleaner_pb2,
    cleaner_pb2_grpc,
    crawler_pb2,
    crawler_pb2_grpc,
    generator_pb2,
    generator_pb2_grpc,
    jobs_pb2,
    jobs_pb2_grpc,
    retriever_pb2,
    retriever_pb2_grpc,
    trainer_pb2,
    trainer_pb2_grpc,
)

logger = logging.getLogger(__name__)

GROUPS = ("crawl", "clean", "index", "export", "pretrain", "train", "draft", "assemble")
State = jobs_pb2.Job.State

ADVICE = {
    "crawl": "check the [[crawl.sites]] profiles (start_urls reachable? allow_private for local sites?)",
    "clean": "loosen the [clean] filters, or crawl more pages",
    "index": "check the cleaned corpus and the [retrieve] backend settings",
    "export": "the query matched too few documents: change the section's query, or lower [retrieve] k",
    "pretrain": "check [model] base; for hub models set HF_HUB_OFFLINE=0 or give a local path",
    "train": "check the writer's training set (its export stage) and [model]; on out-of-memory lower "
    "block_size or batch_size, freeze more layers, or set lora = true",
    "draft": "check [generate] settings; `supil regenerate NAME --section N --seed S` redraws one section",
}


class StageError(RuntimeError):
    """A stage could not finish; the message names the stage, the cause and what to change."""

    def __init__(self, stage: str, cause: str, advice: str = "") -> None:
        self.stage = stage
        self.cause = cause
        self.advice = advice
        super().__init__(f"stage {stage}: {cause}" + (f"\n  {advice}" if advice else ""))


@dataclass(frozen=True)
class SectionPlan:
    """One section as the job will write it."""

    index: int
    title: str
    query: str
    writer: str
    target_chars: int


def plan_sections(spec: EssaySpec) -> list[SectionPlan]:
    """Sections with their character targets and the writer (one per distinct query) that drafts each."""
    queries = list(dict.fromkeys(s.query for s in spec.sections))
    targets = spec.section_targets()
    return [
        SectionPlan(i, s.title, s.query, f"writer-{queries.index(s.query) + 1}", targets[i])
        for i, s in enumerate(spec.sections)
    ]


Submit = Callable[[grpc.Channel, str, dict[str, StageRecord]], jobs_pb2.Job]


@dataclass
class Stage:
    """One unit of the essay job: a job on one service, keyed by its settings and its inputs' digests."""

    name: str
    group: str
    service: str
    settings: dict[str, Any]
    inputs: list[str]
    submit: Submit
    label: str = ""


class Reporter:
    """Receives what happens during a run; the CLI shows it as progress bars, JSON lines or nothing."""

    def plan(self, stages: list[Stage]) -> None:
        """The stages about to run, in order."""

    def skipped(self, stage: Stage, record: StageRecord) -> None:
        """A stage whose inputs, settings and outputs are unchanged: nothing to do."""

    def started(self, stage: Stage, job: jobs_pb2.Job) -> None:
        """A stage's job was created (or re-attached)."""

    def event(self, stage: Stage, event: jobs_pb2.JobEvent) -> None:
        """A job event of a running stage."""

    def finished(self, stage: Stage, record: StageRecord) -> None:
        """A stage ended (record.state says how)."""


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _message_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


@dataclass
class EssayJob:
    """Runs one spec's essay job against services at `addresses`, with the workspace at `workspace`."""

    spec: EssaySpec
    addresses: dict[str, str]
    workspace: Path
    token: str | None = None
    reporter: Reporter = field(default_factory=Reporter)

    def __post_init__(self) -> None:
        self.store = ArtifactStore(self.workspace)
        self.name = self.spec.essay.name
        self.job_dir = self.workspace / "jobs" / self.name
        self.manifest = JobManifest.load(self.job_dir / "manifest.json", self.name)
        self._channels: dict[str, grpc.Channel] = {}
        self._running: tuple[str, str] | None = None  # (service, job_id) of the job in flight

    # ---- plan ------------------------------------------------------------------------------------

    def artifact(self, *parts: str) -> str:
        """An artifact name inside this essay's job folder."""
        return "/".join(("jobs", self.name, *parts))

    def stages(self) -> list[Stage]:
        """Every stage of the job, in the order they run."""
        spec = self.spec
        sections = plan_sections(spec)
        queries = list(dict.fromkeys(s.query for s in spec.sections))
        index_name = f"{self.name}-corpus"
        stages = [
            Stage(
                "crawl",
                "crawl",
                "crawler",
                {"request": _message_dict(self._crawl_request(""))},
                [],
                self._submit_crawl,
            ),
            Stage(
                "clean", "clean", "cleaner", {"options": self._clean_options()}, ["crawl"], self._submit_clean
            ),
            Stage(
                "index",
                "index",
                "retriever",
                {
                    "index": index_name,
                    "backend": spec.retrieve.backend,
                    "decompound": spec.retrieve.decompound_mode,
                },
                ["clean"],
                self._submit_index,
            ),
        ]
        for i, query in enumerate(queries, start=1):
            settings = {
                "query": query,
                "theme": spec.essay.theme,
                "k": spec.retrieve.k,
                "valid_fraction": spec.retrieve.valid_fraction,
                "rm3": spec.retrieve.rm3,
                "seed": spec.generate.seed,
            }
            stages.append(
                Stage(
                    f"export-{i}",
                    "export",
                    "retriever",
                    settings,
                    ["index"],
                    self._submit_export(i, query),
                    query,
                )
            )
        if spec.model.pretrain:
            settings = {
                "base": spec.model.base,
                "epochs": spec.model.pretrain_epochs,
                "block_size": spec.model.block_size,
            }
            stages.append(
                Stage("pretrain", "pretrain", "trainer", settings, ["clean"], self._submit_pretrain)
            )
        model = spec.model.model_dump(exclude={"pretrain", "pretrain_epochs", "pretrain_max_steps"})
        for i in range(1, len(queries) + 1):
            inputs = [f"export-{i}", "pretrain"] if spec.model.pretrain else [f"export-{i}"]
            stages.append(
                Stage(
                    f"train-{i}",
                    "train",
                    "trainer",
                    {"model": model, "seed": spec.generate.seed},
                    inputs,
                    self._submit_writer(i, queries[i - 1]),
                    f"writer-{i}",
                )
            )
        draft_settings = {
            "sections": [
                (s.title, s.writer, spec.sections[s.index].prompt, s.target_chars) for s in sections
            ],
            "generate": spec.generate.model_dump(),
        }
        stages.append(
            Stage(
                "draft",
                "draft",
                "generator",
                draft_settings,
                [f"train-{i}" for i in range(1, len(queries) + 1)],
                self._submit_draft,
            )
        )
        return stages

    def save_spec(self, text: str) -> None:
        """Keep the spec beside the manifest, so `supil regenerate NAME` and `supil essay NAME` can rebuild the job."""
        atomic_write_text(self.job_dir / "spec.toml", text)

    # ---- run -------------------------------------------------------------------------------------

    def run(self, from_group: str | None = None) -> Path:
        """Run every stage that is not already done, then assemble essay.md; returns its path."""
        if from_group is not None:
            self._redo_from(from_group)
        stages = self.stages()
        self.reporter.plan(stages)
        done: dict[str, StageRecord] = {}
        try:
            for stage in stages:
                done[stage.name] = self._run_stage(stage, done)
        finally:
            self.close()
        return self.assemble()

    def _redo_from(self, group: str) -> None:
        if group not in GROUPS:
            raise StageError(group, f"unknown stage {group!r}", f"one of: {', '.join(GROUPS)}")
        for later in GROUPS[GROUPS.index(group) :]:
            self.manifest.generations[later] = self.manifest.generations.get(later, 0) + 1
        if GROUPS.index(group) <= GROUPS.index("draft"):
            self.manifest.overrides.clear()
        self.manifest.save()

    def key_for(self, stage: Stage, upstream: dict[str, StageRecord]) -> str:
        """Digest of what decides a stage's outputs: its settings, its inputs' outputs, its generation."""
        inputs = [(name, [(o.name, o.sha256) for o in upstream[name].outputs]) for name in stage.inputs]
        return _digest(
            {
                "settings": stage.settings,
                "inputs": inputs,
                "generation": self.manifest.generations.get(stage.group, 0),
            }
        )

    def _intact(self, record: StageRecord) -> bool:
        for out in record.outputs:
            try:
                entry = self.store.entry(out.name)
            except Exception:  # noqa: BLE001 - NotFound or an unreadable name: not intact either way
                return False
            if entry.sha256 != out.sha256 or not self.store.verify(out.name):
                return False
        return True

    def _run_stage(self, stage: Stage, done: dict[str, StageRecord]) -> StageRecord:
        key = self.key_for(stage, done)
        old = self.manifest.stages.get(stage.name)
        if old is not None and old.key == key and old.state == "succeeded" and self._intact(old):
            self.reporter.skipped(stage, old)
            return old
        job_id = f"{self.name}.{stage.name}.{key[:16]}"
        record = StageRecord(
            name=stage.name,
            group=stage.group,
            service=stage.service,
            key=key,
            job_id=job_id,
            settings=stage.settings,
            inputs=stage.inputs,
            started=time.time(),
        )
        self.manifest.stages[stage.name] = record
        self.manifest.save()
        channel = self._channel(stage.service)
        try:
            job = stage.submit(channel, job_id, done)
        except grpc.RpcError as exc:
            record.state, record.error, record.finished = "failed", error_text(exc), time.time()
            self.manifest.save()
            raise StageError(
                stage.name,
                f"{stage.service} at {self.addresses[stage.service]} answered {error_text(exc)}",
                ADVICE.get(stage.group, ""),
            ) from None
        self.reporter.started(stage, job)
        self._running = (stage.service, job_id)
        try:
            final = follow_job(
                channel, job_id, lambda event: self.reporter.event(stage, event), attempt=job.attempt
            )
        except grpc.RpcError as exc:
            raise StageError(
                stage.name,
                f"lost {stage.service} at {self.addresses[stage.service]}: {error_text(exc)}",
                "run the same command again to resume",
            ) from None
        finally:
            self._running = None
        record.finished = time.time()
        record.metrics = dict(final.metrics)
        record.outputs = [
            OutputRecord(o.name, o.role, o.sha256, o.size_bytes, o.records) for o in final.outputs
        ]
        record.state = State.Name(final.state).removeprefix("STATE_").lower()
        record.error = final.error
        self.manifest.save()
        self.reporter.finished(stage, record)
        if final.state != State.STATE_SUCCEEDED:
            raise StageError(
                stage.name, f"job {job_id} {record.state}: {final.error}", ADVICE.get(stage.group, "")
            )
        if stage.group == "export":
            self._check_export(stage, record)
        return record

    def _check_export(self, stage: Stage, record: StageRecord) -> None:
        """A writer needs documents to learn from and to validate on: refuse an export without both."""
        train, valid = record.output("train").records, record.output("valid").records
        if train < 1 or valid < 1:
            record.state = "failed"
            record.error = f"{train} train / {valid} valid documents"
            self.manifest.save()
            raise StageError(
                stage.name,
                f"query {stage.label!r} found {train + valid} document(s) containing the theme "
                f"{self.spec.essay.theme!r}; a writer needs at least 2 (one to train on, one to validate)",
                "use a broader query for this section, crawl more pages, or check the theme word",
            )

    def cancel_running(self) -> str | None:
        """Ask the service running the current stage's job to cancel it (Ctrl-C); returns its job_id."""
        if self._running is None:
            return None
        service, job_id = self._running
        try:
            jobs_pb2_grpc.JobServiceStub(self._channel(service)).CancelJob(
                jobs_pb2.CancelJobRequest(job_id=job_id), timeout=5
            )
        except grpc.RpcError as exc:
            logger.warning("could not cancel %s on %s: %s", job_id, service, error_text(exc))
        return job_id

    def _channel(self, service: str) -> grpc.Channel:
        if service not in self._channels:
            self._channels[service] = open_channel(self.addresses[service], self.token)
        return self._channels[service]

    def close(self) -> None:
        """Close the channels."""
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    # ---- requests --------------------------------------------------------------------------------

    def _crawl_request(self, job_id: str) -> crawler_pb2.CreateCrawlJobRequest:
        return crawl_request(self.spec, job_id, self.artifact("corpus", "raw.jsonl.zst"))

    def _submit_crawl(self, channel: grpc.Channel, job_id: str, done: dict[str, StageRecord]) -> jobs_pb2.Job:
        if not self.spec.crawl.sites:
            raise StageError("crawl", "the spec has no [[crawl.sites]]", "add at least one site profile")
        return crawler_pb2_grpc.CrawlerServiceStub(channel).CreateCrawlJob(self._crawl_request(job_id)).job

    def _clean_options(self) -> dict[str, Any]:
        return self.spec.clean.model_dump()

    def _submit_clean(self, channel: grpc.Channel, job_id: str, done: dict[str, StageRecord]) -> jobs_pb2.Job:
        request = cleaner_pb2.CreateCleanJobRequest(
            job_id=job_id,
            input=done["crawl"].output("corpus").name,
            output=self.artifact("corpus", "clean.jsonl.zst"),
            options=clean_options(self._clean_options()),
        )
        return cleaner_pb2_grpc.CleanerServiceStub(channel).CreateCleanJob(request).job

    def _submit_index(self, channel: grpc.Channel, job_id: str, done: dict[str, StageRecord]) -> jobs_pb2.Job:
        retrieve = self.spec.retrieve
        request = retriever_pb2.CreateIndexJobRequest(
            job_id=job_id,
            corpus=done["clean"].output("corpus").name,
            index=f"{self.name}-corpus",
            analyzer=retriever_pb2.AnalyzerOptions(decompound_mode=_DECOMPOUND[retrieve.decompound_mode]),
            backend=_BACKEND[retrieve.backend],
        )
        return retriever_pb2_grpc.RetrieverServiceStub(channel).CreateIndexJob(request).job

    def _submit_export(self, number: int, query: str) -> Submit:
        def submit(channel: grpc.Channel, job_id: str, done: dict[str, StageRecord]) -> jobs_pb2.Job:
            retrieve = self.spec.retrieve
            request = retriever_pb2.CreateExportJobRequest(
                job_id=job_id,
                index=f"{self.name}-corpus",
                query=query,
                options=retriever_pb2.QueryOptions(theme=self.spec.essay.theme, rm3=retrieve.rm3),
                k=retrieve.k,
                valid_fraction=retrieve.valid_fraction,
                seed=self.spec.generate.seed,
                output_prefix=self.artifact("sets", f"query-{number}"),
            )
            return retriever_pb2_grpc.RetrieverServiceStub(channel).CreateExportJob(request).job

        return submit

    def _options(self, *, epochs: float | None, max_steps: int | None) -> trainer_pb2.TrainingOptions:
        """TrainingOptions with only what the spec sets (the trainer fills in the rest)."""
        model = self.spec.model
        options = trainer_pb2.TrainingOptions(seed=self.spec.generate.seed)
        for field_name, value in (
            ("epochs", epochs),
            ("max_steps", max_steps),
            ("block_size", model.block_size),
            ("batch_size", model.batch_size),
        ):
            if value is not None:
                setattr(options, field_name, value)
        return options

    def _submit_pretrain(
        self, channel: grpc.Channel, job_id: str, done: dict[str, StageRecord]
    ) -> jobs_pb2.Job:
        model = self.spec.model
        request = trainer_pb2.CreateTrainJobRequest(
            job_id=job_id,
            stage=trainer_pb2.TRAIN_STAGE_PRETRAIN,
            base=model.base,
            train=[done["clean"].output("corpus").name],
            output=self.artifact("models", "base"),
            options=self._options(epochs=model.pretrain_epochs, max_steps=model.pretrain_max_steps),
            trust_remote_code=model.trust_remote_code,
        )
        return trainer_pb2_grpc.TrainerServiceStub(channel).CreateTrainJob(request).job

    def _submit_writer(self, number: int, query: str) -> Submit:
        def submit(channel: grpc.Channel, job_id: str, done: dict[str, StageRecord]) -> jobs_pb2.Job:
            model = self.spec.model
            export = done[f"export-{number}"]
            base = done["pretrain"].output("base").name if "pretrain" in done else model.base
            options = self._options(epochs=model.epochs, max_steps=model.max_steps)
            if model.learning_rate is not None:
                options.learning_rate = model.learning_rate
            if model.gradient_accumulation is not None:
                options.gradient_accumulation = model.gradient_accumulation
            if model.lora:
                options.lora.r = model.lora_r
            elif model.freeze_layers is not None:
                options.freeze_layers = model.freeze_layers
            request = trainer_pb2.CreateTrainJobRequest(
                job_id=job_id,
                stage=trainer_pb2.TRAIN_STAGE_WRITER,
                base=base,
                train=[export.output("train").name],
                valid=[export.output("valid").name],
                output=self.artifact("models", f"writer-{number}"),
                options=options,
                trust_remote_code=model.trust_remote_code,
                query=query,
            )
            return trainer_pb2_grpc.TrainerServiceStub(channel).CreateTrainJob(request).job

        return submit

    def writer_artifact(self, writer: str) -> str:
        """The artifact name of a writer ("writer-2")."""
        return self.artifact("models", writer)

    def sampling(self, seed: int | None = None) -> generator_pb2.SamplingOptions:
        """The spec's [generate] table as SamplingOptions (seed overridable)."""
        g = self.spec.generate
        return generator_pb2.SamplingOptions(
            top_k=g.top_k,
            top_p=g.top_p,
            temperature=g.temperature,
            repetition_penalty=g.repetition_penalty,
            no_repeat_ngram_size=g.no_repeat_ngram_size,
            seed=g.seed if seed is None else seed,
            chunk_tokens=g.chunk_tokens,
            carry_sentences=g.carry_sentences,
            min_paragraph_chars=g.min_paragraph_chars,
            max_copied_span=g.max_copied_span,
        )

    def _submit_draft(self, channel: grpc.Channel, job_id: str, done: dict[str, StageRecord]) -> jobs_pb2.Job:
        sections = [
            generator_pb2.SectionSpec(
                title=s.title,
                writer=self.writer_artifact(s.writer),
                prompt=self.spec.sections[s.index].prompt,
                target_chars=s.target_chars,
            )
            for s in plan_sections(self.spec)
        ]
        request = generator_pb2.CreateDraftJobRequest(
            job_id=job_id, sections=sections, sampling=self.sampling(), output=self.artifact("drafts.json")
        )
        return generator_pb2_grpc.GeneratorServiceStub(channel).CreateDraftJob(request).job

    # ---- assemble --------------------------------------------------------------------------------

    def drafts(self) -> list[dict[str, Any]]:
        """The drafted sections, with regenerated ones (supil regenerate) in place of the originals."""
        record = self.manifest.stages.get("draft")
        if record is None or record.state != "succeeded":
            raise StageError(
                "assemble", "no finished draft stage in the manifest", "run `supil run SPEC` first"
            )
        sections = self._read_json(record.output("drafts").name)["sections"]
        for index, name in self.manifest.overrides.items():
            replacement = self._read_json(name)["sections"][0]
            sections[int(index)] = {**replacement, "index": int(index)}
        return sections

    def _read_json(self, name: str) -> dict[str, Any]:
        try:
            entry = self.store.entry(name)
        except Exception as exc:  # noqa: BLE001 - NotFound / InvalidArgument, shown to the user
            raise StageError(
                "assemble", f"artifact {name} is missing: {exc}", "run with `--from draft`"
            ) from None
        return json.loads(self.store.path(entry.name).read_text(encoding="utf-8"))

    def assemble(self, with_report: bool = True) -> Path:
        """Write essay.md (title, section headings, paragraphs) and report.html; returns essay.md's path."""
        sections = self.drafts()
        lines = [f"# {self.spec.essay.title}", ""]
        chars = 0
        for section in sections:
            lines += [f"## {section['title']}", ""]
            for paragraph in section["paragraphs"]:
                lines += [paragraph["text"], ""]
                chars += len(paragraph["text"])
        path = self.job_dir / "essay.md"
        atomic_write_text(path, "\n".join(lines))
        self.manifest.essay_file = str(path.relative_to(self.workspace))
        self.manifest.essay_chars = chars
        self.manifest.save()
        if with_report:
            atomic_write_text(self.job_dir / "report.html", render_report(self.report_data(sections, chars)))
        return path

    def regenerate(self, section: int, seed: int) -> Path:
        """Redraw one section with another seed, keep every other section, and re-assemble."""
        plans = plan_sections(self.spec)
        if not 0 <= section < len(plans):
            raise StageError(
                "regenerate", f"section {section + 1} does not exist", f"choose 1 to {len(plans)}"
            )
        self.drafts()  # the essay must have been drafted once
        plan = plans[section]
        spec_section = generator_pb2.SectionSpec(
            title=plan.title,
            writer=self.writer_artifact(plan.writer),
            prompt=self.spec.sections[section].prompt,
            target_chars=plan.target_chars,
        )
        name = self.artifact("sections", f"section-{section + 1}-seed-{seed}.json")
        request = generator_pb2.CreateDraftJobRequest(
            sections=[spec_section], sampling=self.sampling(seed), output=name
        )
        request.job_id = f"{self.name}.regenerate-{section + 1}.{_digest(_message_dict(request))[:16]}"
        stage = Stage(f"regenerate-{section + 1}", "draft", "generator", {}, [], lambda *_: None)
        channel = self._channel("generator")
        try:
            job = generator_pb2_grpc.GeneratorServiceStub(channel).CreateDraftJob(request).job
            self.reporter.started(stage, job)
            final = follow_job(channel, job.job_id, lambda event: self.reporter.event(stage, event))
        except grpc.RpcError as exc:
            raise StageError("regenerate", f"generator answered {error_text(exc)}", ADVICE["draft"]) from None
        if final.state != State.STATE_SUCCEEDED:
            raise StageError("regenerate", f"job {final.job_id}: {final.error}", ADVICE["draft"])
        self.manifest.overrides[str(section)] = name
        self.manifest.save()
        return self.assemble()

    def report_data(self, sections: list[dict[str, Any]], chars: int) -> ReportData:
        """Gather the report's figures from the manifest and the stages' artifacts."""
        plans = plan_sections(self.spec)
        queries = list(dict.fromkeys(s.query for s in self.spec.sections))
        data = ReportData(
            title=self.spec.essay.title,
            theme=self.spec.essay.theme,
            target_chars=self.spec.essay.target_chars,
            essay_chars=chars,
            queries=queries,
        )
        data.stage_seconds = [(n, round(r.seconds, 2), r.state) for n, r in self.manifest.stages.items()]
        clean = self.manifest.stages.get("clean")
        if clean is not None:
            for out in clean.outputs:
                if out.role == "stats":
                    data.corpus_stats = self._read_json(out.name)
                elif out.role == "histogram" and self.store.exists(out.name):
                    data.length_histogram_png = self.store.path(out.name).read_bytes()
        for i, query in enumerate(queries, start=1):
            export = self.manifest.stages.get(f"export-{i}")
            if export is None:
                continue
            scores: list[float] = []
            for out in export.outputs:
                if out.role in ("train", "valid") and self.store.exists(out.name):
                    scores += [float(d.extra.get("score", 0.0)) for d in read_corpus(self.store, out.name)]
            data.retrieval_scores[query] = scores
        for i in range(1, len(queries) + 1):
            train = self.manifest.stages.get(f"train-{i}")
            metrics = next((o.name for o in train.outputs if o.role == "metrics"), None) if train else None
            if metrics and self.store.exists(metrics):
                record = self._read_json(metrics)
                data.loss_curves[f"writer-{i}"] = {
                    "train": [(s["step"], s["loss"]) for s in record.get("steps", [])],
                    "valid": [
                        (e["step"], e["valid_loss"])
                        for e in record.get("epochs", [])
                        if e.get("valid_loss") is not None
                    ],
                }
        for plan, section in zip(plans, sections, strict=True):
            text = "\n".join(p["text"] for p in section["paragraphs"])
            guard = section.get("metrics", {})
            data.sections.append(
                SectionReport(
                    title=section["title"],
                    query=plan.query,
                    target_chars=plan.target_chars,
                    chars=sum(len(p["text"]) for p in section["paragraphs"]),
                    metrics=section_metrics(text),
                    longest_copied_span=guard.get("longest_copied_span"),
                    overlap_ratio=guard.get("overlap_ratio"),
                )
            )
        try:
            data.relevance = self.relevance(sections, queries)
        except (StageError, grpc.RpcError, KeyError) as exc:
            logger.warning("topic relevance not measured: %s", exc)
        return data

    def relevance(self, sections: list[dict[str, Any]], queries: list[str]) -> list[list[float]]:
        """BM25 score of each section against each query, from an index of the sections themselves."""
        if "retriever" not in self.addresses:
            return []
        docs = [
            Document(
                id=f"section-{i + 1}", title=s["title"], text="\n".join(p["text"] for p in s["paragraphs"])
            )
            for i, s in enumerate(sections)
        ]
        digest = _digest([d.text for d in docs])[:16]
        corpus = self.artifact("report", f"sections-{digest}.jsonl.zst")
        if not self.store.exists(corpus):
            write_corpus(self.store, corpus, docs, role="sections")
        index = f"{self.name}-sections-{digest}"
        channel = self._channel("retriever")
        stub = retriever_pb2_grpc.RetrieverServiceStub(channel)
        request = retriever_pb2.CreateIndexJobRequest(
            job_id=f"{self.name}.relevance.{digest}", corpus=corpus, index=index
        )
        job = stub.CreateIndexJob(request).job
        final = follow_job(channel, job.job_id)
        if final.state != State.STATE_SUCCEEDED:
            raise StageError("assemble", f"indexing the sections failed: {final.error}")
        matrix = [[0.0] * len(queries) for _ in docs]
        for q, query in enumerate(queries):
            hits = stub.Search(retriever_pb2.SearchRequest(index=index, query=query, k=len(docs))).hits
            for hit in hits:
                matrix[int(hit.id.removeprefix("section-")) - 1][q] = hit.score
        return matrix


_DECOMPOUND = {
    "none": retriever_pb2.DECOMPOUND_MODE_NONE,
    "discard": retriever_pb2.DECOMPOUND_MODE_DISCARD,
    "mixed": retriever_pb2.DECOMPOUND_MODE_MIXED,
}
_BACKEND = {"embedded": retriever_pb2.BACKEND_EMBEDDED, "elasticsearch": retriever_pb2.BACKEND_ELASTICSEARCH}


def clean_options(settings: dict[str, Any]) -> cleaner_pb2.CleanOptions:
    """CleanOptions from the spec's [clean] table (field names match)."""
    options = cleaner_pb2.CleanOptions()
    for key, value in settings.items():
        if value is None or key not in cleaner_pb2.CleanOptions.DESCRIPTOR.fields_by_name:
            continue
        if key == "sentence_backend":
            options.sentence_backend = cleaner_pb2.SentenceBackend.Value(f"SENTENCE_BACKEND_{value.upper()}")
        elif isinstance(value, list):
            getattr(options, key).extend(value)
        else:
            setattr(options, key, value)
    return options


def crawl_request(spec: EssaySpec, job_id: str, output: str) -> crawler_pb2.CreateCrawlJobRequest:
    """The crawl stage's request: the spec's site profiles, writing the job's raw corpus."""
    sites = []
    for site in spec.crawl.sites:
        profile = crawler_pb2.SiteProfile(
            name=site.name,
            builtin=site.builtin or "",
            start_urls=site.start_urls,
            allowed_domains=site.allowed_domains,
            article_pattern=site.article_pattern or "",
            follow_pattern=site.follow_pattern or "",
            selectors=crawler_pb2.Selectors(
                title=site.title_selector or "",
                body=site.body_selector or "",
                author=site.author_selector or "",
                published=site.date_selector or "",
                tags=site.tags_selector or "",
            ),
            max_pages=site.max_pages,
            max_depth=site.max_depth,
            allow_private=site.allow_private,
        )
        for listing in site.json_listings:
            profile.json_listings.add(**listing.model_dump())
        if site.min_text_chars is not None:
            profile.min_text_chars = site.min_text_chars
        if site.min_hangul_ratio is not None:
            profile.min_hangul_ratio = site.min_hangul_ratio
        profile.politeness.obey_robots_txt = site.obey_robots_txt
        if site.download_delay is not None:
            profile.politeness.download_delay_seconds = site.download_delay
        if site.concurrency_per_domain is not None:
            profile.politeness.concurrent_requests_per_domain = site.concurrency_per_domain
        sites.append(profile)
    return crawler_pb2.CreateCrawlJobRequest(
        job_id=job_id, sites=sites, output=output, http_cache=spec.crawl.http_cache
    )
