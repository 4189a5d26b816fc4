/*
 * chatbi web widget. One tag embeds it into any page (src: this file on the chatbi server, any origin):
 *
 *   <script src="/widget.js" data-api-key="..." data-lang="zh|en"></script>
 *
 * Plain JavaScript with no build step. Everything it draws lives in a shadow root, so the host page's
 * CSS does not reach the widget and the widget's CSS (static/widget.css) does not reach the page.
 * It talks only to POST /v1/ask: server-sent events (plan, sql, rows, text, done) to show progress,
 * plain JSON when streaming is not possible. Charts use plotly.js served by the same app (no CDN),
 * loaded the first time an answer has a chart. Answer data is always inserted as text, never as HTML.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__chatbiWidget) return; // a second copy of the tag must not add a second bubble
  window.__chatbiWidget = true;

  var SOURCE = new URL(script.src, location.href);
  var ASK_URL = new URL("v1/ask", SOURCE).href;
  var CSS_URL = new URL("static/widget.css", SOURCE).href;
  var PLOTLY_URL = new URL("static/plotly.min.js", SOURCE).href;
  // The grains whose buckets the chart names on a category axis, as the table does (answer.display).
  var GRAIN_BUCKETS = ["month", "quarter", "year"];  // days and weeks go on a date axis
  var ANSWERS_URL = new URL("v1/answers/", SOURCE).href;
  var API_KEY = script.getAttribute("data-api-key") || "";
  var MAX_TABLE_ROWS = 20;
  var FONT = 'system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif';
  var PALETTE = ["#c2185b", "#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41", "#546e7a",
    "#f4511e", "#3949ab", "#7cb342", "#d81b60"];

  var STRINGS = {
    zh: {
      title: "数据助手",
      subtitle: "销售 · 库存 · 财务,问我就行",
      open: "打开数据助手",
      close: "关闭",
      newChat: "新对话",
      placeholder: "输入问题,例如:上个月各渠道的销售额",
      send: "发送",
      welcome: "你好!我可以回答销售、毛利、库存周转、现金周期等问题。试试:",
      examples: ["上个月各渠道的销售额", "去年各月销售额", "上个月天猫的毛利率是多少"],
      planning: "正在理解问题…",
      running: "正在运行 SQL…",
      composing: "正在组织回答…",
      details: "SQL 与口径",
      definitions: "口径",
      rowsShown: "显示前 {shown} 行,共 {total} 行",
      followUps: ["按月拆开", "按周拆开", "同比", "前5名"],
      chartFailed: "图表暂时无法显示。",
      failed: "抱歉,服务暂时不可用,请稍后再试。",
      unauthorized: "无法验证身份:请检查 API key。",
      forbidden: "你的角色无权查看这些数据。",
      tooLong: "问题太长了,请简短一些。",
      invalid: "这个问题没能提交,请换个说法再试。",
      answerError: "抱歉,这次查询没有成功,请稍后再试或换个问法。",
      previous: "对比期",
      growth: "增长",
      download: "下载",
      helpful: "有用",
      wrong: "不对",
      comment: "想补充些什么?(可选)",
      sendFeedback: "提交反馈",
      thanks: "谢谢反馈!",
      feedbackFailed: "反馈没能提交,请稍后再试。",
      downloadFailed: "文件没能下载,请稍后再试。",
    },
    en: {
      title: "Data assistant",
      subtitle: "Sales, inventory, finance: just ask",
      open: "Open the data assistant",
      close: "Close",
      newChat: "New chat",
      placeholder: "Ask a question, e.g. GMV by channel last month",
      send: "Send",
      welcome: "Hi! I answer questions on sales, margins, inventory turnover, the cash cycle and more. Try:",
      examples: ["GMV by channel last month", "monthly GMV last year", "gross margin on Tmall last month"],
      planning: "Planning…",
      running: "Running SQL…",
      composing: "Composing the answer…",
      details: "SQL and definitions",
      definitions: "Definitions",
      rowsShown: "First {shown} of {total} rows",
      followUps: ["by month", "by week", "vs last year", "top 5"],
      chartFailed: "The chart cannot be shown right now.",
      failed: "Sorry, the service is not available right now. Please try again later.",
      unauthorized: "Could not verify who you are: check the API key.",
      forbidden: "Your role may not see this data.",
      tooLong: "That question is too long: please shorten it.",
      invalid: "The question could not be sent: please rephrase it.",
      answerError: "Sorry, that query did not succeed. Please try again or ask it another way.",
      previous: "previous",
      growth: "growth",
      download: "Download",
      helpful: "Helpful",
      wrong: "Not right",
      comment: "Anything to add? (optional)",
      sendFeedback: "Send feedback",
      thanks: "Thanks for the feedback!",
      feedbackFailed: "The feedback could not be sent; please try again later.",
      downloadFailed: "The file could not be downloaded; please try again later.",
    },
  };

  function pickLanguage(requested) {
    if (requested === "zh" || requested === "en") return requested;
    var browser = (navigator.languages && navigator.languages[0]) || navigator.language || "";
    return /^zh\b/i.test(browser) ? "zh" : "en";
  }

  var UI_LANG = pickLanguage(script.getAttribute("data-lang"));
  var T = STRINGS[UI_LANG];

  // -- small DOM helpers -------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return String(values[key]); });
  }

  // -- cells: the answer carries each column's label (answer.labels) and each cell's display string
  // (answer.display, from presentation/cells.py); the widget shows them verbatim and formats nothing.
  function isDate(value) {
    return typeof value === "string" && /^\d{4}-\d{2}-\d{2}/.test(value);
  }

  /** Whether a column holds numbers (right-aligned): every raw value a number or missing, at least one number. */
  function isNumeric(answer, i) {
    var seen = false;
    var numeric = (answer.rows || []).every(function (row) {
      var v = row[i];
      if (v === null || v === undefined) return true;
      seen = true;
      return typeof v === "number";
    });
    return numeric && seen;
  }

  function cellText(answer, r, i) {
    var row = (answer.display || [])[r];
    return row && row[i] !== undefined ? row[i] : "\u2014";
  }

  // -- talking to the server ------------------------------------------------------------------
  /** The answer's file, fetched with the API key (a plain link could not send it) and saved under its name. */
  function download(answerId, format) {
    return fetch(ANSWERS_URL + encodeURIComponent(answerId) + "." + format, { headers: headers("*/*") })
      .then(function (res) {
        if (!res.ok) throw new HttpError(res.status);
        return res.blob();
      })
      .then(function (blob) {
        var url = URL.createObjectURL(blob);
        var a = document.createElement("a");
        a.href = url;
        a.download = "chatbi-" + answerId + "." + format;
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      });
  }

  function sendFeedback(answerId, rating, comment) {
    var body = { rating: rating };
    if (comment) body.comment = comment;
    return fetch(ANSWERS_URL + encodeURIComponent(answerId) + "/feedback", {
      method: "POST", headers: headers("application/json"), body: JSON.stringify(body),
    }).then(function (res) { if (!res.ok) throw new HttpError(res.status); });
  }

  function HttpError(status) {
    this.status = status;
  }

  function headers(accept) {
    var out = { "Content-Type": "application/json", Accept: accept };
    if (API_KEY) out["X-API-Key"] = API_KEY;
    return out;
  }

  function parseEvent(block) {
    var name = "message";
    var data = [];
    block.split(/\r?\n/).forEach(function (line) {
      if (!line || line.charAt(0) === ":") return;
      var at = line.indexOf(":");
      var field = at < 0 ? line : line.slice(0, at);
      var value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    });
    if (!data.length) return null;
    var text = data.join("\n");
    try {
      return { name: name, data: JSON.parse(text) };
    } catch (e) {
      return { name: name, data: text };
    }
  }

  /** Ask with server-sent events; resolves with the answer of the `done` event. A stream that breaks
   *  before `done` rejects with `streamFailed`, which makes the caller ask again in plain JSON. */
  function askStreaming(body, onEvent) {
    return fetch(ASK_URL, { method: "POST", headers: headers("text/event-stream"), body: body })
      .catch(function () { throw { streamFailed: true }; })
      .then(function (res) {
        if (!res.ok) throw new HttpError(res.status);
        var type = res.headers.get("content-type") || "";
        if (type.indexOf("text/event-stream") < 0 || !res.body) return res.json();
        var reader = res.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        var answer = null;
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) {
              if (answer) return answer;
              throw { streamFailed: true };
            }
            buffer += decoder.decode(chunk.value, { stream: true });
            var boundary;
            while ((boundary = /\r?\n\r?\n/.exec(buffer))) {
              var event = parseEvent(buffer.slice(0, boundary.index));
              buffer = buffer.slice(boundary.index + boundary[0].length);
              if (!event) continue;
              if (event.name === "error") throw new HttpError(500);
              if (event.name === "done") answer = event.data;
              onEvent(event);
            }
            return pump();
          }, function () {
            if (answer) return answer;
            throw { streamFailed: true };
          });
        }
        return pump();
      });
  }

  function askJson(body) {
    return fetch(ASK_URL, { method: "POST", headers: headers("application/json"), body: body })
      .then(function (res) {
        if (!res.ok) throw new HttpError(res.status);
        return res.json();
      });
  }

  function ask(question, conversationId, onEvent) {
    var payload = { question: question };
    if (conversationId) payload.conversation_id = conversationId;
    var body = JSON.stringify(payload);
    return askStreaming(body, onEvent).catch(function (error) {
      if (error && error.streamFailed) return askJson(body);
      throw error;
    });
  }

  function friendlyError(error) {
    var status = error instanceof HttpError ? error.status : 0;
    if (status === 401) return T.unauthorized;
    if (status === 403) return T.forbidden;
    if (status === 413) return T.tooLong;
    if (status === 400 || status === 422) return T.invalid;
    return T.failed;
  }

  // -- charts ---------------------------------------------------------------------------------
  var plotlyLoaded = null;

  /** plotly.js from this app, once; a page that has its own window.Plotly keeps it. */
  function loadPlotly() {
    if (!plotlyLoaded) {
      plotlyLoaded = new Promise(function (resolve, reject) {
        var previous = window.Plotly;
        var tag = document.createElement("script");
        tag.src = PLOTLY_URL;
        tag.async = true;
        tag.onload = function () {
          var plotly = window.Plotly;
          if (previous !== undefined) window.Plotly = previous;
          if (plotly && plotly.newPlot) resolve(plotly);
          else reject(new Error("plotly did not load"));
        };
        tag.onerror = function () {
          plotlyLoaded = null;
          reject(new Error("plotly did not load"));
        };
        document.head.appendChild(tag);
      });
    }
    return plotlyLoaded;
  }

  /** A category name cut to about 16 Latin or 8 Chinese characters, for an axis tick. */
  function shortLabel(text) {
    var width = 0;
    for (var i = 0; i < text.length; i++) {
      width += text.charCodeAt(i) > 0x2e7f ? 2 : 1;
      if (width > 16) return text.slice(0, i) + "…";
    }
    return text;
  }

  /** An axis for values of one format: ticks read like the table (万/亿 in Chinese, K/M in English). */
  function axisFor(format, values, lang) {
    var largest = values.reduce(function (m, v) { return typeof v === "number" && isFinite(v) ? Math.max(m, Math.abs(v)) : m; }, 0);
    var axis = { tickfont: { size: 10 }, gridcolor: "#eef0f3", zerolinecolor: "#d1d5db", automargin: true };
    var divisor = 1;
    if ((format === "cny" || format === "count") && lang === "zh") {
      var unit = largest >= 1e8 ? [1e8, "亿"] : largest >= 1e4 ? [1e4, "万"] : [1, ""];
      divisor = unit[0];
      axis.ticksuffix = unit[1];
      axis.tickformat = ",.4~r";
    } else if (format === "cny" || format === "count") {
      axis.tickformat = largest >= 1e4 ? ".3~s" : ",.0f";
    } else if (format === "percent") {
      axis.tickformat = ".1~%";
    } else if (format === "growth") {
      axis.tickformat = "+.1~%";
    } else if (format === "days") {
      axis.tickformat = ",.1~f";
      axis.ticksuffix = lang === "zh" ? " 天" : " d";
    } else if (format === "times_per_year") {
      axis.tickformat = ",.2~f";
      axis.ticksuffix = lang === "zh" ? " 次/年" : "/yr";
    } else {
      axis.tickformat = ",.3~s";
    }
    if (format === "cny") axis.tickprefix = "¥";
    return { axis: axis, divisor: divisor };
  }

  /** The answer's chart spec as plotly traces and layout:
   *  - line: x is the grain column (buckets by name, days and weeks on a date axis); one trace per
   *    metric, or per member of `series` (named by `series_label`) when there is one;
   *  - bar: x is the `x_label` column when present (display names), else `x`; grouped or `stacked`;
   *  - y axes from `formats`: a second format gets a right-hand axis; more than two share one plain axis;
   *  - `row_filter` keeps only the rows whose columns hold the given values. */
  function chartFigure(answer) {
    var chart = answer.chart;
    var lang = answer.language;
    var columns = answer.columns || [];
    var at = function (name) { return name ? columns.indexOf(name) : -1; };
    var raw = answer.rows || [];
    var indexes = raw.map(function (row, r) { return r; }).filter(function (r) {
      var keep = chart.row_filter || {};
      return Object.keys(keep).every(function (key) { return at(key) < 0 || raw[r][at(key)] === keep[key]; });
    });
    if (chart.max_rows) indexes = indexes.slice(0, chart.max_rows);  // tools rank rows; chart only the first
    var rowIndex = new Map();
    var rows = indexes.map(function (r) { rowIndex.set(raw[r], r); return raw[r]; });
    var shown = function (row, column) { return cellText(answer, rowIndex.get(row), column); };
    var metrics = (chart.y || []).filter(function (m) { return at(m) >= 0; });
    if (!rows.length || !metrics.length || at(chart.x) < 0) return null;

    var xColumn = at(chart.x);
    var labelColumn = at(chart.x_label);
    var xOf;
    var xaxis = { tickfont: { size: 10 }, automargin: true, showgrid: false };
    if (chart.type === "line" && labelColumn < 0 && GRAIN_BUCKETS.indexOf(chart.x) >= 0) {
      xOf = function (row) { return shown(row, xColumn); };  // the bucket's name, as the table shows it
      xaxis.type = "category";
      xaxis.nticks = 7; // plotly skips labels evenly rather than crowding a narrow panel
    } else if (chart.type === "line" && labelColumn < 0 && rows.every(function (r) { return isDate(r[xColumn]); })) {
      xOf = function (row) { return row[xColumn]; };
      xaxis.type = "date";
      xaxis.hoverformat = "%Y-%m-%d";
    } else {
      var column = labelColumn >= 0 ? labelColumn : xColumn;
      xOf = function (row) { return row[column] === null ? "—" : String(row[column]); };
      xaxis.type = "category";
      if (chart.type === "line") xaxis.nticks = 7;
      else { // long names are cut on the axis; the hover shows them whole
        xaxis.tickvals = rows.map(xOf);
        xaxis.ticktext = xaxis.tickvals.map(shortLabel);
      }
    }

    var formats = chart.formats || {};
    var groups = [];
    metrics.forEach(function (m) { if (groups.indexOf(formats[m] || null) < 0) groups.push(formats[m] || null); });
    var axes = {};
    var layoutAxes = {};
    groups.forEach(function (format, i) {
      var values = [];
      metrics.forEach(function (m) { if ((formats[m] || null) === format) rows.forEach(function (r) { values.push(r[at(m)]); }); });
      var made = axisFor(groups.length > 2 ? null : format, values, lang);
      if (i === 0 || groups.length > 2) {
        axes[format] = { ref: "y", divisor: made.divisor };
        if (i === 0) layoutAxes.yaxis = made.axis;
      } else {
        axes[format] = { ref: "y2", divisor: made.divisor };
        made.axis.overlaying = "y";
        made.axis.side = "right";
        made.axis.showgrid = false;
        layoutAxes.yaxis2 = made.axis;
      }
    });

    var seriesColumn = at(chart.series);
    var seriesLabel = at(chart.series_label);
    var members = [];
    var byMember = {};
    rows.forEach(function (row) {
      var key = seriesColumn >= 0 ? String(row[seriesColumn]) : "";
      if (!byMember[key]) {
        byMember[key] = { name: seriesLabel >= 0 && row[seriesLabel] !== null ? String(row[seriesLabel]) : key, rows: [] };
        members.push(key);
      }
      byMember[key].rows.push(row);
    });

    var names = chart.y_names || {};
    var traces = [];
    members.forEach(function (key) {
      var group = byMember[key];
      metrics.forEach(function (m) {
        var format = formats[m] || null;
        var axis = axes[format];
        var metricName = names[m] || m;
        var name = seriesColumn < 0 ? metricName : metrics.length > 1 ? group.name + " · " + metricName : group.name;
        var trace = {
          type: chart.type === "line" ? "scatter" : "bar",
          name: name,
          x: group.rows.map(xOf),
          y: group.rows.map(function (r) { var v = r[at(m)]; return typeof v === "number" ? v / axis.divisor : null; }),
          customdata: group.rows.map(function (r) { return shown(r, at(m)); }),
          hovertemplate: "%{x}<br>%{customdata}<extra>%{fullData.name}</extra>",
          yaxis: axis.ref,
          marker: { color: PALETTE[traces.length % PALETTE.length] },
        };
        if (trace.type === "bar" && !chart.stacked) trace.offsetgroup = String(traces.length); // side by side across axes
        if (trace.type === "scatter") {
          trace.mode = "lines+markers";
          trace.line = { color: PALETTE[traces.length % PALETTE.length], width: 2 };
          trace.marker.size = 5;
        }
        traces.push(trace);
      });
    });

    var layout = Object.assign({
      height: 250,
      margin: { l: 8, r: 8, t: 8, b: 8 },
      font: { family: FONT, size: 11, color: "#1f2933" },
      paper_bgcolor: "#ffffff",
      plot_bgcolor: "#ffffff",
      colorway: PALETTE,
      showlegend: traces.length > 1,
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", font: { size: 10 } },
      barmode: chart.stacked ? "stack" : "group",
      hovermode: "closest",
      xaxis: xaxis,
    }, layoutAxes);
    return { data: traces, layout: layout };
  }

  // -- the widget -----------------------------------------------------------------------------
  function mount() {
    var host = document.createElement("chatbi-widget");
    var shadow = host.attachShadow({ mode: "open" });
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = CSS_URL;
    var plotlyStyle = document.createElement("style"); // plotly's own rules, copied in from document.head
    var root = el("div", "cb");
    root.setAttribute("lang", UI_LANG === "zh" ? "zh-CN" : "en");
    root.setAttribute("data-open", "false");
    root.style.visibility = "hidden"; // until widget.css has loaded, so no unstyled flash
    var reveal = function () { root.style.visibility = ""; };
    link.addEventListener("load", reveal);
    link.addEventListener("error", reveal);
    shadow.append(link, plotlyStyle, root);

    var bubble = el("button", "cb-bubble");
    bubble.type = "button";
    bubble.setAttribute("aria-label", T.open);
    bubble.title = T.open;
    bubble.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6v2h2v-2H7zm4 0v2h2v-2h-2zm4 0v2h2v-2h-2z"/></svg>';

    var panel = el("section", "cb-panel");
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", T.title);
    var head = el("header", "cb-head");
    var title = el("div", "cb-title", T.title);
    title.appendChild(el("small", null, T.subtitle));
    var newChat = el("button", "cb-new", T.newChat);
    newChat.type = "button";
    var close = el("button", "cb-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", T.close);
    head.append(title, newChat, close);
    var log = el("div", "cb-log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    var form = el("div", "cb-form");
    var input = el("input", "cb-input");
    input.type = "text";
    input.placeholder = T.placeholder;
    input.setAttribute("aria-label", T.placeholder);
    input.maxLength = 500;
    var send = el("button", "cb-send", T.send);
    send.type = "button";
    form.append(input, send);
    panel.append(head, log, form);
    root.append(bubble, panel);

    var conversationId = null;
    var busy = false;

    function scrollDown() { log.scrollTop = log.scrollHeight; }

    function setBusy(value) {
      busy = value;
      send.disabled = value;
      log.querySelectorAll(".cb-option, .cb-chip").forEach(function (b) { b.disabled = value; });
    }

    function chips(className, texts, container) {
      texts.forEach(function (text) {
        var button = el("button", className, text);
        button.type = "button";
        button.disabled = busy;
        button.addEventListener("click", function () { submit(text); });
        container.appendChild(button);
      });
      return container;
    }

    function welcome() {
      log.textContent = "";
      var card = el("div", "cb-msg cb-bot");
      card.appendChild(el("div", "cb-text", T.welcome));
      card.appendChild(chips("cb-chip", T.examples, el("div", "cb-chips")));
      log.appendChild(card);
    }

    function renderTable(answer, card) {
      var columns = answer.columns || [];
      var rows = answer.rows || [];
      if (!rows.length || !columns.length) return;
      var visible = columns.map(function (c, i) { return i; }).filter(function (i) {
        return columns.indexOf(columns[i] + "_name") < 0; // a code column gives way to its display names
      });
      if (rows.length === 1 && visible.length === 1) return; // one number: the text already says it
      var labels = answer.labels || [];
      var numeric = columns.map(function (c, i) { return isNumeric(answer, i); });
      var wrap = el("div", "cb-table-wrap");
      var table = el("table", "cb-table");
      var headRow = el("tr");
      visible.forEach(function (i) { headRow.appendChild(el("th", numeric[i] ? "cb-num" : "", labels[i] || columns[i])); });
      table.appendChild(el("thead")).appendChild(headRow);
      var body = el("tbody");
      rows.slice(0, MAX_TABLE_ROWS).forEach(function (row, r) {
        var tr = el("tr");
        visible.forEach(function (i) { tr.appendChild(el("td", numeric[i] ? "cb-num" : "", cellText(answer, r, i))); });
        body.appendChild(tr);
      });
      table.appendChild(body);
      wrap.appendChild(table);
      card.appendChild(wrap);
      if (rows.length > MAX_TABLE_ROWS) {
        card.appendChild(el("div", "cb-note", fill(STRINGS[answer.language].rowsShown, { shown: MAX_TABLE_ROWS, total: rows.length })));
      }
    }

    function renderChart(answer, card) {
      var figure = answer.chart ? chartFigure(answer) : null;
      if (!figure) return;
      if (answer.chart.title) card.appendChild(el("div", "cb-chart-title", answer.chart.title));
      var box = el("div", "cb-chart");
      card.appendChild(box);
      loadPlotly().then(function (Plotly) {
        return Plotly.newPlot(box, figure.data, figure.layout, { displayModeBar: false, responsive: true });
      }).then(function () {
        var rules = [];
        document.querySelectorAll('style[id^="plotly.js-style"]').forEach(function (style) {
          try {
            Array.prototype.forEach.call(style.sheet.cssRules, function (rule) { rules.push(rule.cssText); });
          } catch (e) { /* a sheet we cannot read adds nothing */ }
        });
        plotlyStyle.textContent = rules.join("\n");
        box.setAttribute("data-rendered", "true");
      }).catch(function () {
        box.className = "cb-note";
        box.textContent = STRINGS[answer.language].chartFailed;
      });
    }

    function renderDetails(answer, card) {
      var definitions = answer.definitions || [];
      if (!answer.sql && !definitions.length) return;
      var S = STRINGS[answer.language];
      var details = el("details", "cb-details");
      details.appendChild(el("summary", null, S.details));
      if (definitions.length) {
        var list = el("ul", "cb-defs");
        definitions.forEach(function (d) {
          var item = el("li");
          item.appendChild(el("b", null, d.name + ": "));
          item.appendChild(document.createTextNode(d.definition));
          list.appendChild(item);
        });
        details.appendChild(list);
      }
      if (answer.sql) details.appendChild(el("pre", "cb-sql", answer.sql));
      card.appendChild(details);
    }

    /** 2-3 follow-ups the planner understands, chosen from what the answer's query lacks. */
    function followUps(answer) {
      var plan = answer.plan;
      if (answer.status !== "answer" || !plan || !Array.isArray(plan.metrics)) return [];
      var words = STRINGS[answer.language].followUps; // by month, by week, year on year, top 5
      var out = [];
      if (!plan.grain && plan.period) {
        var days = (Date.parse(plan.period.end) - Date.parse(plan.period.start)) / 864e5;
        out.push(days > 62 ? words[0] : words[1]);
      }
      if (!plan.compare) out.push(words[2]);
      if ((plan.dimensions || []).length && plan.limit == null && (answer.rows || []).length > 5) out.push(words[3]);
      return out.slice(0, 3);
    }

    /** Download buttons and thumbs (with an optional comment) under an answer the server kept. */
    function renderActions(answer, card) {
      if (!answer.answer_id) return;
      var S = STRINGS[answer.language];
      var bar = el("div", "cb-actions");
      [["xlsx", "Excel"], ["csv", "CSV"]].forEach(function (pair) {
        var button = el("button", "cb-download", S.download + " " + pair[1]);
        button.type = "button";
        button.setAttribute("data-format", pair[0]);
        button.addEventListener("click", function () {
          button.disabled = true;
          download(answer.answer_id, pair[0]).catch(function () {
            bar.appendChild(el("div", "cb-note", S.downloadFailed));
          }).then(function () { button.disabled = false; });
        });
        bar.appendChild(button);
      });
      var box = el("div", "cb-feedback");
      // words, not emoji: a browser without an emoji font would show empty boxes
      [["up", "\u2191 " + S.helpful], ["down", "\u2193 " + S.wrong]].forEach(function (thumb) {
        var button = el("button", "cb-thumb", thumb[1]);
        button.type = "button";
        button.setAttribute("data-rating", thumb[0]);
        button.addEventListener("click", function () { askComment(thumb[0]); });
        bar.appendChild(button);
      });
      function askComment(rating) {
        box.textContent = "";
        bar.querySelectorAll(".cb-thumb").forEach(function (b) {
          b.setAttribute("aria-pressed", b.getAttribute("data-rating") === rating ? "true" : "false");
        });
        var comment = el("input", "cb-comment");
        comment.type = "text";
        comment.maxLength = 2000;
        comment.placeholder = S.comment;
        comment.setAttribute("aria-label", S.comment);
        var submitButton = el("button", "cb-send-feedback", S.sendFeedback);
        submitButton.type = "button";
        function post() {
          submitButton.disabled = true;
          sendFeedback(answer.answer_id, rating, comment.value.trim()).then(function () {
            box.textContent = "";
            box.appendChild(el("div", "cb-note cb-thanks", S.thanks));
            bar.querySelectorAll(".cb-thumb").forEach(function (b) { b.disabled = true; });
          }).catch(function () {
            submitButton.disabled = false;
            box.appendChild(el("div", "cb-note", S.feedbackFailed));
          });
        }
        submitButton.addEventListener("click", post);
        comment.addEventListener("keydown", function (event) {
          if (event.key === "Enter" && !event.isComposing && event.keyCode !== 229) { event.preventDefault(); post(); }
        });
        box.append(comment, submitButton);
        comment.focus();
      }
      card.append(bar, box);
    }

    function renderAnswer(answer, card) {
      card.textContent = "";
      card.setAttribute("lang", answer.language === "zh" ? "zh-CN" : "en");
      card.setAttribute("data-status", answer.status);
      var text = answer.text || "";
      var options = answer.options || [];
      if (options.length) { // the numbered options of the text become buttons
        text = text.split("\n").filter(function (line) {
          return !options.some(function (o, i) { return line.trim() === (i + 1) + ". " + o; });
        }).join("\n");
      }
      if (answer.status === "error") {
        card.appendChild(el("div", "cb-text cb-error", STRINGS[answer.language].answerError));
      } else {
        card.appendChild(el("div", "cb-text", text));
      }
      renderChart(answer, card);
      renderTable(answer, card);
      renderDetails(answer, card);
      renderActions(answer, card);
      if (options.length) card.appendChild(chips("cb-option", options, el("div", "cb-options")));
      var next = followUps(answer);
      if (next.length) card.appendChild(chips("cb-chip", next, el("div", "cb-chips")));
    }

    function progress(card, text) {
      card.textContent = "";
      var line = el("div", "cb-progress");
      line.appendChild(el("span", "cb-spinner"));
      line.appendChild(el("span", null, text));
      card.appendChild(line);
    }

    function submit(question) {
      question = (question || "").trim();
      if (!question || busy) return;
      input.value = "";
      var asked = el("div", "cb-msg cb-user", question);
      log.appendChild(asked);
      var card = el("div", "cb-msg cb-bot");
      card.setAttribute("aria-busy", "true");
      progress(card, T.planning);
      log.appendChild(card);
      scrollDown();
      setBusy(true);
      var steps = { plan: T.running, sql: T.running, rows: T.composing, text: T.composing };
      function onEvent(event) {
        if (event.data && event.data.conversation_id) conversationId = event.data.conversation_id;
        if (steps[event.name]) progress(card, steps[event.name]);
      }
      ask(question, conversationId, onEvent).then(function (answer) {
        if (!answer || typeof answer !== "object" || !answer.status) throw new HttpError(0);
        if (answer.conversation_id) conversationId = answer.conversation_id;
        setBusy(false);
        renderAnswer(answer, card);
      }).catch(function (error) {
        setBusy(false);
        card.textContent = "";
        card.setAttribute("data-status", "failed");
        card.appendChild(el("div", "cb-text cb-error", friendlyError(error)));
      }).then(function () {
        card.removeAttribute("aria-busy");
        // The answer is read from its start: bring the question to the top (or all of it into view).
        log.scrollTop += asked.getBoundingClientRect().top - log.getBoundingClientRect().top - 8;
      });
    }

    function setOpen(open) {
      root.setAttribute("data-open", open ? "true" : "false");
      if (open) {
        input.focus();
      } else {
        bubble.focus();
      }
    }

    bubble.addEventListener("click", function () { setOpen(true); });
    close.addEventListener("click", function () { setOpen(false); });
    newChat.addEventListener("click", function () {
      if (busy) return;
      conversationId = null;
      welcome();
      input.focus();
    });
    send.addEventListener("click", function () { submit(input.value); });
    input.addEventListener("keydown", function (event) {
      // Enter that confirms an IME composition (Chinese input) is not a send.
      if (event.key === "Enter" && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit(input.value);
      }
    });
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") setOpen(false);
    });

    welcome();
    document.body.appendChild(host);
    // A link such as the Slack bot's "/?q=上个月各渠道的销售额" opens the panel and asks it.
    var asked = new URLSearchParams(window.location.search).get("q");
    if (script && script.hasAttribute("data-ask-from-url") && asked) {
      setOpen(true);
      submit(asked.slice(0, 500));
    }
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
