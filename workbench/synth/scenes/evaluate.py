"""Score found passes against a rendered scene's truth: pass-views within +-1 frame, match positions within
+-3 px, merged and split passes (the figures issue 15 asks for)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class PassScore:
    """How found passes compare with the truth."""

    pass_views: int = 0  # in the truth (views that reach home inside the video)
    within_one: int = 0  # found within +-1 frame of the truth
    position_ok: int = 0  # of those, match top-left within +-3 px of the view in that frame
    extra: int = 0  # found pass-views that are no truth pass-view
    merged: int = 0  # found passes holding views of two or more parts
    split: int = 0  # parts whose views were found in two or more passes
    parts: int = 0  # parts with at least one view reaching home
    found_passes: int = 0
    edge_passes: int = 0  # partial passes of parts half in view at the video's start or end
    problems: list[str] = field(default_factory=list)

    @property
    def frame_rate(self) -> float:
        return self.within_one / self.pass_views if self.pass_views else 1.0

    @property
    def position_rate(self) -> float:
        return self.position_ok / self.within_one if self.within_one else 1.0

    def ok(self, rate: float = 0.98, tol_px: int = 3) -> bool:
        return self.frame_rate >= rate and self.position_rate >= rate and not self.merged and not self.split

    def to_dict(self) -> dict:
        d = asdict(self)
        d["frame_rate"], d["position_rate"] = round(self.frame_rate, 4), round(self.position_rate, 4)
        return d


def score_passes(
    truth: dict,
    found: list[dict[str, tuple[int, int, int]]],
    tol_px: int = 3,
    status: list[str] | None = None,
) -> PassScore:
    """``found``: one {view: (frame, match_x, match_y)} per found pass, in order; ``status`` per found pass.

    A pass the tracker calls partial (cut by the video's start or end) whose views match no truth view but
    lie on a part in view there (half in view) is no error: the truth counts a view only when it reaches its
    home inside the video, and at the last frame that is a matter of half a frame."""
    views = {}
    for part in truth["parts"]:
        for name, v in part["views"].items():
            views[(part["index"], name)] = v
    sc = PassScore(pass_views=len(views), parts=len({k for k, _ in views}), found_passes=len(found))
    status = status or ["ok"] * len(found)
    seen: dict[int, set[int]] = {}  # part -> found pass indices
    for i, p in enumerate(found):
        parts_here = set()
        edge_views = 0
        for name, (frame, x, y) in p.items():
            best = min(
                ((k, v) for (k, n), v in views.items() if n == name),
                key=lambda kv: abs(kv[1]["best_frame"] - frame),
                default=None,
            )
            if best is None or abs(best[1]["best_frame"] - frame) > 1:
                near = _part_at(truth, frame)
                at_edge = near is not None and name not in _part(truth, near)["views"]
                if status[i] == "partial" and at_edge:
                    parts_here.add(near)
                    edge_views += 1
                    continue
                sc.extra += 1
                sc.problems.append(f"pass {i} view {name}: frame {frame} is no part's best frame (+-1)")
                near = _part_at(truth, frame)
                if near is not None:
                    parts_here.add(near)
                continue
            k, v = best
            parts_here.add(k)
            sc.within_one += 1
            at = v.get("xy_at", {}).get(str(frame))
            if at is not None and abs(at[0] - x) <= tol_px and abs(at[1] - y) <= tol_px:
                sc.position_ok += 1
            else:
                sc.problems.append(f"pass {i} view {name} frame {frame}: match at {x},{y}, truth {at}")
        sc.edge_passes += bool(p) and edge_views == len(p)
        for k in parts_here:
            seen.setdefault(k, set()).add(i)
        if len(parts_here) > 1:
            sc.merged += 1
            sc.problems.append(f"pass {i} holds parts {sorted(parts_here)}")
    for k, passes in seen.items():
        if len(passes) > 1:
            sc.split += 1
            sc.problems.append(f"part {k} found in passes {sorted(passes)}")
    return sc


def _part(truth: dict, index: int) -> dict:
    return next(p for p in truth["parts"] if p["index"] == index)


def _part_at(truth: dict, frame: int) -> int | None:
    """The part in view at ``frame`` (the one whose views are nearest their best frames there)."""
    inside = [p for p in truth["parts"] if p["first"] <= frame <= p["last"]]
    if not inside:
        return None

    def distance(p: dict) -> float:
        return min(
            (abs(v["best_frame"] - frame) for v in p["views"].values()),
            default=abs((p["first"] + p["last"]) / 2 - frame),
        )

    return min(inside, key=distance)["index"]
