// A tiny SVG bar chart of txs per second over the last minute. No
// animation (prefers-reduced-motion needs nothing here); the numbers are
// also in its accessible name and in the text next to it.

const NS = "http://www.w3.org/2000/svg";
const W = 600;
const H = 120;

export class TpsChart {
  constructor(seconds = 60) {
    this.seconds = seconds;
    this.counts = new Map(); // unix second -> txs
    this.svg = document.createElementNS(NS, "svg");
    this.svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    this.svg.setAttribute("preserveAspectRatio", "none");
    this.svg.setAttribute("role", "img");
    this.svg.setAttribute("class", "chart");
    this.svg.setAttribute("data-testid", "tps-chart");
    this.now = Math.floor(Date.now() / 1000);
  }

  // [{t: unix s, txs}] from /v1/explorer/stats: replaces what is known for
  // those seconds.
  load(points) {
    for (const p of points || []) this.counts.set(p.t, p.txs);
    if (points && points.length)
      this.now = Math.max(this.now, points[points.length - 1].t);
    this.draw();
  }

  // A block of n txs committed at timeMs.
  add(timeMs, n) {
    const t = Math.floor(timeMs / 1000);
    this.counts.set(t, (this.counts.get(t) || 0) + n);
    this.now = Math.max(this.now, t);
    this.draw();
  }

  tick() {
    this.now = Math.max(this.now, Math.floor(Date.now() / 1000));
    this.draw();
  }

  values() {
    const out = [];
    for (let t = this.now - this.seconds + 1; t <= this.now; t++)
      out.push(this.counts.get(t) || 0);
    for (const t of this.counts.keys())
      if (t <= this.now - this.seconds) this.counts.delete(t);
    return out;
  }

  // Total txs over the window and the busiest second.
  summary() {
    const v = this.values();
    const total = v.reduce((a, b) => a + b, 0);
    return { total, max: Math.max(0, ...v), perSecond: total / this.seconds };
  }

  draw() {
    const v = this.values();
    const max = Math.max(1, ...v);
    const bw = W / v.length;
    const kids = [];
    const base = document.createElementNS(NS, "line");
    base.setAttribute("x1", "0");
    base.setAttribute("x2", String(W));
    base.setAttribute("y1", String(H - 0.5));
    base.setAttribute("y2", String(H - 0.5));
    base.setAttribute("class", "axis");
    kids.push(base);
    v.forEach((n, i) => {
      if (!n) return;
      const r = document.createElementNS(NS, "rect");
      const bh = Math.max(2, (n / max) * (H - 4));
      r.setAttribute("x", String(i * bw + 1));
      r.setAttribute("width", String(Math.max(1, bw - 2)));
      r.setAttribute("y", String(H - bh));
      r.setAttribute("height", String(bh));
      kids.push(r);
    });
    this.svg.replaceChildren(...kids);
    const s = this.summary();
    this.svg.setAttribute(
      "aria-label",
      `Transactions per second over the last ${this.seconds} seconds: ` +
        `${s.total} in all, at most ${s.max} in one second`,
    );
    this.svg.dataset.total = String(s.total);
  }
}
