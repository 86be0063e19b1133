// The practice page: sends Start/Stop and draws the run from the live event stream (/api/events).
// Everything shown comes from the server's messages; the page decides nothing about the rep.
"use strict";
const $ = (id) => document.getElementById(id);
const drills = JSON.parse($("drill-data").textContent);
const startButton = $("start"), stopButton = $("stop");
let running = startButton.disabled && !stopButton.disabled;
let inRep = false;  // between rep_start and rep_end: live states are drawn
let verdicts = null;  // the last scorecard's verdict per step, in this run
let shownCurrent = null;  // the step last scrolled to as the one to say next

function showScript(steps) {
  const list = $("script");
  list.replaceChildren(...steps.map((step, i) => {
    const item = document.createElement("li");
    item.dataset.step = step.id;
    item.dataset.state = i === 0 ? "current" : "pending";
    const id = document.createElement("span");
    id.className = "id";
    id.textContent = step.title;
    item.append(id, step.line);
    if (step.optional) {  // said only when it is needed (the concern, when they hesitate)
      const note = document.createElement("small");
      note.className = "note";
      note.textContent = " (if needed)";
      item.append(note);
    }
    return item;
  }));
}

function showFocus(text) {
  $("focus").hidden = !text;
  $("focus").textContent = text;
}

function clearResults() {
  verdicts = null;
  showFocus("");
  $("scorecard").replaceChildren();
  delete $("scorecard").dataset.score;
  $("run").replaceChildren();
  $("summary").textContent = "";
  showWords([]);
}

function chooseDrill(name) {
  if (!drills[name]) return;
  showScript(drills[name].steps);
  offerCustomer(name);
}

function offerCustomer(name) {
  const drill = drills[name] || { customer: false };
  const customer = document.querySelector("#setup input[name=customer]");
  customer.disabled = running || !drill.customer;
  if (!drill.customer) customer.checked = false;
  customer.parentElement.title = drill.customer ? "" : "This drill has no customer lines";
}

function setRunning(on) {
  running = on;
  startButton.disabled = on || !$("source").value;
  stopButton.disabled = !on;
  document.querySelectorAll("#setup select, #setup input").forEach((el) => { el.disabled = on; });
  if (!on) offerCustomer($("drill").value);  // the script keeps the last rep's verdicts
}

function showVerdicts() {
  for (const item of $("script").children) {
    const status = verdicts ? verdicts[item.dataset.step] : "pending";
    item.dataset.state = status === "repeated" ? "ok" : status;
  }
}

function stepStates(state) {
  for (const item of $("script").children) {
    const id = item.dataset.step;
    item.dataset.state = state.out_of_order.includes(id) ? "out_of_order"
      : state.early.includes(id) ? "early" : state.heard.includes(id) ? "ok" : id === state.current ? "current" : "pending";
    item.dataset.note = item.dataset.state === "early" ? state.early_note : "";  // why it is not ticked yet
    if (id === state.current && item.dataset.state === "current" && id !== shownCurrent) {
      shownCurrent = id;
      item.scrollIntoView({ block: "nearest" });  // the line to say next comes on screen, once (a rep may scroll away)
    }
  }
}

function showMeter(state) {
  const meter = $("meter"), text = $("meter-text");
  const [low, high] = state.limits || [0, 0];
  const span = high ? high * 1.5 : 2;
  $("meter-fill").style.width = Math.min(100, (100 * state.pause_s) / span) + "%";
  meter.dataset.alarm = String(state.alarm);
  meter.dataset.required = String(Boolean(state.limits) && state.pause_s < low);
  meter.dataset.unheard = String(Boolean(state.unheard));
  const seconds = state.pause_s.toFixed(1) + " s";
  text.textContent = state.unheard ? state.unheard
    : state.alarm && state.resumed ? `pause ${seconds} — too long (limit ${high} s)`
    : state.alarm ? `pause ${seconds} — keep moving!`
    : state.limits && state.pause_s < low ? `hold the pause: ${(low - state.pause_s).toFixed(1)} s more`
    : state.limits ? `pause ${seconds} (limit ${high} s)` : `pause ${seconds}`;
}

function showWords(words) {
  const label = document.createElement("span");
  label.textContent = words.length ? "heard: " : "";
  label.className = "unclear";
  $("words").replaceChildren(label, ...words.map(([text, caught]) => {
    const span = document.createElement("span");
    span.textContent = text + " ";
    if (!caught) span.className = "unclear";
    return span;
  }));
}

function notice(text, problem) {
  const line = $("notice");
  line.hidden = !text;
  line.textContent = text || "";
  line.className = problem ? "notice problem" : "notice";
}

const handlers = {
  run_start(m) {
    // the page shows the run under way, whatever it was opened with
    if (drills[m.drill]) $("drill").value = m.drill;
    document.querySelector(`#setup input[name=reps][value="${m.reps === 10 ? 10 : 1}"]`).checked = true;
    document.querySelector("#setup input[name=customer]").checked = Boolean(m.customer);
    setRunning(true);
    showScript(m.steps);
    clearResults();
    notice("");
  },
  cue(m) { $("cue").textContent = m.text; },
  rep_start(m) {
    inRep = true;
    $("live").scrollIntoView({ block: "start" });  // the meter and the script on screen, on a laptop or a phone
    shownCurrent = null;
    for (const item of $("script").children) item.dataset.state = item === $("script").firstElementChild ? "current" : "pending";
    showWords([]);
    $("timer").textContent = "0.0 s";
    showMeter({ pause_s: 0, limits: null, alarm: false });
  },
  state(m) {
    if (!inRep) return;  // a state sent just after the rep ended: the meter and words stay cleared
    $("timer").textContent = m.t.toFixed(1) + " s";
    stepStates(m);
    showMeter(m);
    showWords(m.words);
    const customer = $("customer");
    customer.hidden = !m.customer;
    customer.textContent = m.customer ? `Customer: “${m.customer}”` : "";
  },
  pause_alarm() { $("meter").dataset.alarm = "true"; },
  rep_end(m) {
    inRep = false;
    $("cue").textContent = `Rep ${m.rep} done — scoring…`;
    showMeter({ pause_s: 0, limits: null, alarm: false });  // the meter measures pauses inside a rep only
  },
  scorecard(m) {
    verdicts = m.steps;
    showVerdicts();
    const card = $("scorecard");
    card.innerHTML = m.html;
    card.dataset.score = m.score;
    card.dataset.rep = m.id ?? "";
    $("run").innerHTML = m.run_html;
    $("cue").textContent = `This run's rep ${m.rep}: ${m.scored ? `score ${m.score}` : "not scored"} — ${m.id ? "saved as " : ""}${m.saved}`;
    showFocus(`This run's rep ${m.rep}${m.id ? ` (saved as rep ${m.id})` : ""} ${m.scored ? `scored ${m.score}` : "was not scored"}. Next rep: ${m.focus}`);  // (the run's table numbers reps as the history does: "rep 2" beside "rep 16" read as two reps)
    notice([...m.problems, ...m.notes].join(" "), m.problems.length > 0);
  },
  notice(m) { notice(m.text, false); },
  run_end(m) {
    setRunning(false);
    showVerdicts();  // a rep stopped before its handoff was not scored: its ticks go, the last scorecard's verdicts stay
    $("timer").textContent = "";
    showWords([]);  // what a rep stopped before its handoff was heard saying goes with its ticks
    $("summary").textContent = m.saved;
    if (m.error) notice(m.error, true);
    $("cue").textContent = "Press Start for the next rep.";
    if ($("scorecard").dataset.score && !m.error) $("scorecard").scrollIntoView({ block: "start" });  // the score, its tips, the run's table (a problem: the notice, at the top)
  },
};

const GONE = "The app is not answering. If you closed it, start it again with: voicedrill app";
let stream = null;
function listen() {
  // one live connection per visible tab (a browser allows only a few per address)
  if (stream) return;
  stream = new EventSource("/api/events");
  stream.onmessage = (e) => { const m = JSON.parse(e.data); (handlers[m.type] || (() => {}))(m); };
  stream.onerror = () => { if (stream.readyState !== EventSource.OPEN) notice(GONE, true); };
  stream.onopen = () => { if ($("notice").textContent === GONE) notice(""); };
}
document.addEventListener("visibilitychange", () => {
  if (document.hidden && stream) { stream.close(); stream = null; } else if (!document.hidden) listen();
});
listen();

async function post(url, body) {
  try {
    const response = await fetch(url, { method: "POST", body });
    if (!response.ok) {
      const answer = await response.json().catch(() => ({ error: GONE }));
      notice(answer.error, true);
    }
    return response.ok;
  } catch (error) {
    notice(GONE, true);
    return false;
  }
}

function start() { if (!running && !startButton.disabled) { notice(""); post("/api/start", new FormData($("setup"))); } }
function stop() { if (running) post("/api/stop", new FormData()); }

startButton.addEventListener("click", start);
stopButton.addEventListener("click", stop);
document.addEventListener("keydown", (e) => {
  if (e.key !== " " || ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName)) return;
  e.preventDefault();
  running ? stop() : start();
});
$("drill").addEventListener("change", () => { if (!running) { chooseDrill($("drill").value); clearResults(); } });
// a choice made, the space bar starts again (a focused checkbox or list would take it for itself)
$("setup").addEventListener("change", (e) => { if (e.target.matches("select, input[type=radio], input[type=checkbox]")) e.target.blur(); });
chooseDrill($("drill").value);
