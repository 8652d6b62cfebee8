"""The Station pane: the project as a tree of sources, views (with template thumbnails), samples counted
per view/split/label, runs, results and policies; clicking a sample or a view shows it."""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from workbench.gui.imaging import thumbnail
from workbench.gui.runs import STALE_TIP, sig, stale_runs
from workbench.gui.station_model import Snapshot, StationModel
from workbench.gui.theme import DARK, Colors

if TYPE_CHECKING:
    from workbench.project.types import SampleInfo

KIND = Qt.ItemDataRole.UserRole  # what an item stands for: ("sample", id), ("view", name), ...
LAZY = Qt.ItemDataRole.UserRole + 1  # the samples a group item fills in when first expanded
SPLIT_ORDER = ("train", "val", "test", "unassigned")
LABEL_ORDER = ("good", "defective", "unknown")


def _ordered(keys: Any, order: tuple[str, ...]) -> list[str]:
    return sorted(keys, key=lambda k: (order.index(k) if k in order else len(order), k))


def sample_text(s: SampleInfo) -> str:
    mark = " ✎" if s.has_mask else ""
    badge = " ◆" if s.synthetic else ""
    return f"#{s.id}{badge}  pass {s.pass_index}  frame {s.frame}{mark}"


class StationPane(QWidget):
    """Project tree; a sample's leaf appears when its group is expanded, so big stations open at once."""

    def __init__(self, model: StationModel, parent: QWidget | None = None, colors: Colors = DARK):
        super().__init__(parent)
        self.model = model
        self.colors = colors
        self.header = QLabel("No project open. File ▸ Open, or drop a .awb file on the window.", self)
        self.header.setWordWrap(True)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Item", "Count"])
        self.tree.setColumnCount(2)
        self.tree.setHeaderHidden(True)  # the dock's title already says what this is
        self.tree.setUniformRowHeights(False)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, self.tree.header().ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, self.tree.header().ResizeMode.ResizeToContents)
        icon = int(self.fontMetrics().height() * 2.2)  # thumbnails scale with the font, not fixed pixels
        self.tree.setIconSize(QSize(icon, icon))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.tree, 1)
        self.tree.itemExpanded.connect(self._fill_lazy)
        self.tree.currentItemChanged.connect(self._on_current)
        model.opened.connect(self.show_snapshot)
        model.changed.connect(self.show_snapshot)
        model.closed.connect(self.clear)
        model.sampleSelected.connect(self.reveal_sample)
        model.viewSelected.connect(self.reveal_view)

    # --- building ---------------------------------------------------------------------------------
    def clear(self) -> None:
        self.tree.clear()
        self.header.setText("No project open. File ▸ Open, or drop a .awb file on the window.")

    def show_snapshot(self, snap: Snapshot) -> None:
        expanded = self._expanded_keys()
        self.tree.blockSignals(True)
        self.tree.clear()
        self.header.setText(f"<b>{snap.name}</b><br><small>{snap.path}</small>")
        self._add_sources(snap)
        self._add_views(snap)
        self._add_samples(snap)
        stale = stale_runs(snap)
        runs = self._add_simple(
            "Runs",
            [
                (f"{r.id}  {r.model}", r.view + (" ⚠ stale" if r.id in stale else ""), ("run", r.id))
                for r in snap.runs
            ],
        )
        for i, r in enumerate(snap.runs):
            item = runs.child(i)
            item.setToolTip(0, _run_tip(r) + (f"\n⚠ {STALE_TIP}" if r.id in stale else ""))
            if r.id in stale:
                item.setForeground(1, QColor(self.colors.warn))
        self._add_simple(
            "Results",
            [(f"{r.id}  of {r.run}", f"{len(r.sample_ids)} samples", ("result", r.id)) for r in snap.results],
        )
        policies = self._add_simple(
            "Policies", [(name, _policy_text(p), ("policy", name)) for name, p in snap.policies.items()]
        )
        for i, (_name, p) in enumerate(snap.policies.items()):
            policies.child(i).setToolTip(1, _policy_tip(p))
        self.tree.blockSignals(False)
        self._restore_expanded(expanded)
        self.tree.resizeColumnToContents(1)

    def _top(self, title: str, count: int) -> QTreeWidgetItem:
        item = QTreeWidgetItem(self.tree, [title, str(count)])
        item.setData(0, KIND, ("group", title))
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)
        return item

    def _add_sources(self, snap: Snapshot) -> None:
        top = self._top("Sources", len(snap.sources))
        for s in snap.sources:
            m = s.meta
            frames = m.get("frames", m.get("frame_count"))
            passes = m.get("passes") or []
            info = f"{frames} frames" if frames else s.kind
            item = QTreeWidgetItem(top, [f"{s.id}  {os.path.basename(s.uri) or s.uri}", info])
            item.setData(0, KIND, ("source", s.id))
            fps = m.get("fps")
            item.setToolTip(
                0,
                f"{s.kind}: {s.uri}\n{frames or '?'} frames"
                + (f" at {float(fps):.1f} fps" if fps else "")
                + f", {len(passes)} passes",
            )
            if passes:
                QTreeWidgetItem(item, ["passes", str(len(passes))]).setData(0, KIND, ("passes", s.id))
        top.setExpanded(True)

    def _add_views(self, snap: Snapshot) -> None:
        top = self._top("Views", len(snap.views))
        per_view = Counter(s.view for s in snap.samples)
        size = self.tree.iconSize().width()
        for name, v in snap.views.items():
            item = QTreeWidgetItem(top, [name, f"{per_view.get(name, 0)} samples"])
            item.setData(0, KIND, ("view", name))
            item.setIcon(0, thumbnail(v.template, size))
            th, tw = v.template.shape[:2]
            item.setToolTip(
                0,
                f"template {tw}×{th} px, match threshold {v.match_threshold:.2f}\n"
                f"crop window {v.crop.w}×{v.crop.h} px at ({v.crop.x}, {v.crop.y}) from the match"
                + (f"\nzones: {', '.join(v.zone_names)}" if v.zone_names else ""),
            )
        top.setExpanded(True)

    def _add_samples(self, snap: Snapshot) -> None:
        top = self._top("Samples", len(snap.samples))
        groups: dict[str, dict[str, dict[str, list[SampleInfo]]]] = {}
        for s in snap.samples:
            groups.setdefault(s.view, {}).setdefault(s.split, {}).setdefault(s.label, []).append(s)
        for view in sorted(groups):
            by_split = groups[view]
            v_item = QTreeWidgetItem(
                top, [view, str(sum(len(x) for d in by_split.values() for x in d.values()))]
            )
            v_item.setData(0, KIND, ("samples-view", view))
            for split in _ordered(by_split, SPLIT_ORDER):
                by_label = by_split[split]
                s_item = QTreeWidgetItem(v_item, [split, str(sum(len(x) for x in by_label.values()))])
                s_item.setData(0, KIND, ("samples-split", f"{view}/{split}"))
                for label in _ordered(by_label, LABEL_ORDER):
                    members = by_label[label]
                    l_item = QTreeWidgetItem(s_item, [label, str(len(members))])
                    l_item.setData(0, KIND, ("samples-label", f"{view}/{split}/{label}"))
                    l_item.setData(0, LAZY, [s.id for s in members])
                    l_item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
        top.setExpanded(True)

    def _add_simple(self, title: str, rows: list[tuple[str, str, tuple[str, str]]]) -> QTreeWidgetItem:
        top = self._top(title, len(rows))
        for text, info, kind in rows:
            QTreeWidgetItem(top, [text, info]).setData(0, KIND, kind)
        return top

    def _fill_lazy(self, item: QTreeWidgetItem) -> None:
        ids = item.data(0, LAZY)
        snap = self.model.snapshot
        if not ids or snap is None:
            return
        item.setData(0, LAZY, None)
        for sid in ids:
            s = snap.sample(sid)
            if s is not None:
                child = QTreeWidgetItem(item, [sample_text(s), f"{s.match_score:.2f}"])
                child.setData(0, KIND, ("sample", sid))
                child.setToolTip(0, f"sample {sid}: view {s.view}, pass {s.pass_index}, frame {s.frame}")

    # --- selection --------------------------------------------------------------------------------
    def _on_current(self, item: QTreeWidgetItem | None, _previous: Any = None) -> None:
        kind = None if item is None else item.data(0, KIND)
        if not kind:
            return
        what, key = kind
        if what == "sample" and key != self.model.selected_sample:
            self.model.select_sample(int(key))
        elif what == "view" and key != self.model.selected_view:
            self.model.select_view(str(key))

    def find(self, kind: tuple[str, Any]) -> QTreeWidgetItem | None:
        """The item standing for ``kind`` (filling in lazy groups on the way for samples)."""
        snap = self.model.snapshot
        if kind[0] == "sample" and snap is not None:
            s = snap.sample(kind[1])
            if s is None:
                return None
            label_item = self.find(("samples-label", f"{s.view}/{s.split}/{s.label}"))
            if label_item is not None:
                self._fill_lazy(label_item)
        for item in self._walk():
            if item.data(0, KIND) == kind:
                return item
        return None

    def reveal_sample(self, sid: int) -> None:
        self._reveal(("sample", sid))

    def reveal_view(self, name: str) -> None:
        self._reveal(("view", name))

    def _reveal(self, kind: tuple[str, Any]) -> None:
        item = self.find(kind)
        if item is None or item is self.tree.currentItem():
            return
        self.tree.blockSignals(True)
        parent = item.parent()
        while parent is not None:
            parent.setExpanded(True)
            parent = parent.parent()
        self.tree.setCurrentItem(item)
        self.tree.blockSignals(False)
        self.tree.scrollToItem(item)

    def _walk(self):
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            yield item
            stack.extend(item.child(i) for i in range(item.childCount()))

    def _expanded_keys(self) -> set[Any]:
        return {item.data(0, KIND) for item in self._walk() if item.isExpanded()}

    def _restore_expanded(self, keys: set[Any]) -> None:
        for item in list(self._walk()):
            if item.data(0, KIND) in keys:
                item.setExpanded(True)


SOURCE_WORDS = {
    "false_alarm_rate": "false-alarm target",
    "precision": "precision target",
    "f1": "best F1",
    "iou": "best IoU",
    "manual": "set by hand",
}


def _policy_text(policy: Any) -> str:
    """'image · 3 views · best F1' — what a policy is, in a few words and readable numbers."""
    if not isinstance(policy, dict):
        return ""
    per_view = policy.get("per_view") or {}
    level = policy.get("level", "")
    what = f"{len(per_view)} views" if len(per_view) > 1 else f"threshold {sig(policy.get('threshold'))}"
    source = SOURCE_WORDS.get(policy.get("source", ""), policy.get("source", ""))
    return " · ".join(x for x in (level, what, source) if x)


def _policy_tip(policy: Any) -> str:
    if not isinstance(policy, dict):
        return ""
    lines = [f"{view}: {sig(t)}" for view, t in (policy.get("per_view") or {}).items()]
    for view, zones in (policy.get("per_zone") or {}).items():
        lines += [f"{view} / {zone}: {sig(t)}" for zone, t in zones.items()]
    return "\n".join(lines) or f"threshold {sig(policy.get('threshold'))}"


def _run_tip(run: Any) -> str:
    meta = run.meta if isinstance(run.meta, dict) else {}
    bits = [f"{run.model} on view {run.view}, trained {str(run.created)[:16].replace('T', ' ')}"]
    if "n_train" in meta:
        bits.append(f"{meta['n_train']} training samples")
    if "train_seconds" in meta:
        bits.append(f"fit in {sig(meta['train_seconds'])} s")
    if "inference_ms_per_image" in meta:
        bits.append(f"{sig(meta['inference_ms_per_image'])} ms per image")
    return "\n".join(bits)
