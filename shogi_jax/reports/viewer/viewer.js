"use strict";
const ShogiViewer = (() => {
  const PLAY_MILLISECONDS = 700;

  function escapeText(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  function num(value) {  // as render._number: two decimals at most, no trailing zeros
    return value.toFixed(2).replace(/\.?0+$/, "");
  }

  // SFEN -> {board: {"7g": "P", "3c": "+p"}, hands: {b: {P: 2}, w: {}}, side: "b", moveNumber}
  function parseSfen(sfen, style) {
    const fields = sfen.trim().split(/\s+/);
    const board = {};
    fields[0].split("/").forEach((row, rankIndex) => {
      let file = 9;
      for (let i = 0; i < row.length; i++) {
        const ch = row[i];
        if (ch >= "1" && ch <= "9") { file -= Number(ch); continue; }
        let piece = ch;
        if (ch === "+") { i += 1; piece = "+" + row[i]; }
        board[String(file) + style.rankLetters[rankIndex]] = piece;
        file -= 1;
      }
    });
    const hands = {b: {}, w: {}};
    let count = "";
    for (const ch of fields[2] === "-" ? "" : fields[2]) {
      if (ch >= "0" && ch <= "9") { count += ch; continue; }
      const side = ch === ch.toUpperCase() ? "b" : "w";
      const letter = ch.toUpperCase();
      hands[side][letter] = (hands[side][letter] || 0) + Number(count || 1);
      count = "";
    }
    return {board, hands, side: fields[1], moveNumber: Number(fields[3] || 1)};
  }

  // USI move -> {from: "7g" or null for a drop, to: "7f"}
  function moveSquares(usi) {
    return usi[1] === "*" ? {from: null, to: usi.slice(2, 4)}
                          : {from: usi.slice(0, 2), to: usi.slice(2, 4)};
  }

  function squareCentre(square, style) {
    const file = Number(square[0]), rank = style.rankLetters.indexOf(square[1]) + 1;
    return [style.boardLeft + (9 - file + 0.5) * style.cell,
            style.boardTop + (rank - 0.5) * style.cell];
  }

  function handSlotCentre(sideIndex, slot, style) {
    if (sideIndex === 0) {
      return [style.blackHandLeft + style.cell / 2,
              style.boardTop + style.boardSize - (slot + 0.5) * style.cell];
    }
    return [style.gap + style.cell / 2, style.boardTop + (slot + 0.5) * style.cell];
  }

  function text(content, x, y, fontSize, style, extra) {
    return `<text x="${num(x)}" y="${num(y + style.glyphMiddle * fontSize)}" ` +
      `font-size="${num(fontSize)}" text-anchor="middle" ${extra || ""}>` +
      `${escapeText(content)}</text>`;
  }

  function piece(kind, sideIndex, x, y, attributes, style) {
    const turn = sideIndex === 1 ? ` transform="rotate(180 ${num(x)} ${num(y)})"` : "";
    const outline = style.pieceOutline
      .map(([dx, dy]) => `${num(x + dx * style.cell)},${num(y + dy * style.cell)}`).join(" ");
    const colour = kind.startsWith("+") ? style.promotedColor : style.ink;
    return `<g ${attributes}${turn}><polygon points="${outline}" fill="${style.pieceColor}" ` +
      `stroke="${style.ink}" stroke-width="0.8"></polygon>` +
      text(style.pieceNames[kind], x, y + 0.03 * style.cell, style.pieceFontSizes[kind], style,
           `fill="${colour}"`) + "</g>";
  }

  function boardLines(style, lastMove) {
    const parts = [`<rect x="${num(style.boardLeft)}" y="${num(style.boardTop)}" ` +
      `width="${num(style.boardSize)}" height="${num(style.boardSize)}" ` +
      `fill="${style.boardColor}"></rect>`];
    if (lastMove) {
      const {from, to} = moveSquares(lastMove);
      const squares = from ? [from, to] : [to];
      const cells = squares.map((square) => {
        const [x, y] = squareCentre(square, style);
        return `<rect x="${num(x - style.cell / 2)}" y="${num(y - style.cell / 2)}" ` +
          `width="${num(style.cell)}" height="${num(style.cell)}" ` +
          `fill="${style.highlightColor}" data-square="${square}"></rect>`;
      }).join("");
      parts.push(`<g data-last-move="${escapeText(lastMove)}"` +
        (from ? ` data-from="${from}"` : "") + ` data-to="${to}">${cells}</g>`);
    }
    let d = "";
    for (let i = 0; i <= 9; i++) {
      const across = num(style.boardLeft + i * style.cell);
      const down = num(style.boardTop + i * style.cell);
      d += `M${across} ${num(style.boardTop)}v${num(style.boardSize)}`;
      d += `M${num(style.boardLeft)} ${down}h${num(style.boardSize)}`;
    }
    parts.push(`<path d="${d}" stroke="${style.ink}" stroke-width="1" fill="none"></path>`);
    for (const across of style.starPoints) {
      for (const down of style.starPoints) {
        parts.push(`<circle cx="${num(style.boardLeft + across * style.cell)}" ` +
          `cy="${num(style.boardTop + down * style.cell)}" r="${num(0.06 * style.cell)}" ` +
          `fill="${style.ink}"></circle>`);
      }
    }
    for (let file = 9; file >= 1; file--) {
      parts.push(text(String(file), style.boardLeft + (9 - file + 0.5) * style.cell,
                      style.gap + style.label / 2, style.smallFontSize, style,
                      `fill="${style.ink}"`));
    }
    for (let rank = 1; rank <= 9; rank++) {
      parts.push(text(style.rankLabels[rank - 1],
                      style.boardLeft + style.boardSize + style.label / 2,
                      style.boardTop + (rank - 0.5) * style.cell, style.smallFontSize, style,
                      `fill="${style.ink}"`));
    }
    return parts.join("");
  }

  function hand(position, sideIndex, style) {
    const side = style.sideLetters[sideIndex];
    const [nameX, nameY] = handSlotCentre(sideIndex, 0, style);
    const left = nameX - style.cell / 2;
    const top = Math.min(nameY, handSlotCentre(sideIndex, style.handSlots - 1, style)[1]) -
      style.cell / 2;
    const parts = [`<rect x="${num(left)}" y="${num(top)}" width="${num(style.handWidth)}" ` +
      `height="${num(style.handSlots * style.cell)}" fill="${style.handColor}" ` +
      `rx="${num(0.1 * style.cell)}"></rect>`];
    const bold = position.side === side ? ' font-weight="bold"' : "";
    parts.push(text(style.handNames[sideIndex],
                    left + style.handWidth / 2, nameY, style.smallFontSize, style,
                    `fill="${style.ink}"${bold}`));
    let slot = 0;
    for (const letter of style.handOrder) {
      const count = position.hands[side][letter] || 0;
      if (!count) continue;
      slot += 1;
      const [x, y] = handSlotCentre(sideIndex, slot, style);
      const label = count > 1
        ? text(String(count), x + style.cell / 2 + (style.handWidth - style.cell) / 2, y,
               style.smallFontSize, style, `fill="${style.ink}"`)
        : "";
      parts.push(`<g data-hand="${side}" data-piece="${letter}" data-count="${count}">` +
        piece(letter, sideIndex, x, y, "", style) + label + "</g>");
    }
    return parts.join("");
  }

  // As render._percent: "42%"; Python's format rounds a tie (an exact half) to even.
  function percent(probability) {
    if (probability > 0 && probability < 0.005) return "<1%";
    const scaled = 100 * probability, floor = Math.floor(scaled);
    const whole = scaled - floor === 0.5 ? floor + (floor % 2) : Math.round(scaled);
    return `${whole}%`;
  }

  // As render._draw_arrow: from the source (a drop: the piece in the mover's hand) to the
  // destination, wider and more opaque the likelier, labelled halfway along.
  function arrow(usi, probability, position, sideIndex, style) {
    const {from, to} = moveSquares(usi);
    let start;
    if (from) {
      start = squareCentre(from, style);
    } else {
      const held = Array.from(style.handOrder).filter(
        (letter) => position.hands[style.sideLetters[sideIndex]][letter]);
      start = handSlotCentre(sideIndex, held.indexOf(usi[0]) + 1, style);
    }
    const end = squareCentre(to, style);
    const length = Math.hypot(end[0] - start[0], end[1] - start[1]);
    const along = [(end[0] - start[0]) / length, (end[1] - start[1]) / length];
    const across = [-along[1], along[0]];
    const width = style.cell * (0.06 + 0.14 * probability);
    const headLength = 0.35 * style.cell, headHalfWidth = width / 2 + 0.12 * style.cell;
    const neck = [end[0] - along[0] * headLength, end[1] - along[1] * headLength];
    const head = [end, ...[1, -1].map((sign) => [neck[0] + sign * across[0] * headHalfWidth,
                                                 neck[1] + sign * across[1] * headHalfWidth])];
    const middle = [(start[0] + end[0]) / 2, (start[1] + end[1]) / 2];
    const squares = (from ? ` data-from="${from}"` : "") + ` data-to="${to}"`;
    return `<g data-move="${escapeText(usi)}" data-probability="${probability}"${squares}>` +
      `<g fill="${style.arrowColor}" opacity="${num(0.45 + 0.45 * probability)}">` +
      `<line x1="${num(start[0])}" y1="${num(start[1])}" x2="${num(neck[0])}" ` +
      `y2="${num(neck[1])}" stroke="${style.arrowColor}" stroke-width="${num(width)}" ` +
      `stroke-linecap="round"></line><polygon points="` +
      head.map(([x, y]) => `${num(x)},${num(y)}`).join(" ") + `"></polygon></g>` +
      text(percent(probability), middle[0], middle[1], style.smallFontSize, style,
           `fill="${style.arrowColor}" stroke="white" stroke-width="${num(0.08 * style.cell)}" ` +
           `paint-order="stroke" font-weight="bold"`) + "</g>";
  }

  // The SVG of a position, as render.position_svg draws it; `arrows`: [[usi, probability],
  // ...] moves of the side to move (a network's top moves), drawn likeliest last (on top).
  function boardSvg(sfen, lastMove, style, arrows) {
    const position = parseSfen(sfen, style);
    const sideIndex = style.sideLetters.indexOf(position.side);
    const parts = [boardLines(style, lastMove)];
    const squares = [];  // render's order: file 1 to 9, each from rank a to i
    for (let file = 1; file <= 9; file++) {
      for (const letter of style.rankLetters) squares.push(String(file) + letter);
    }
    for (const square of squares.filter((square) => position.board[square])) {
      const letters = position.board[square];
      const kind = letters.toUpperCase();
      const owner = letters === kind ? 0 : 1;
      const [x, y] = squareCentre(square, style);
      parts.push(piece(kind, owner, x, y,
                       `data-square="${square}" data-piece="${escapeText(letters)}"`, style));
    }
    parts.push(hand(position, 0, style), hand(position, 1, style));
    parts.push(text(style.toMove[sideIndex], style.boardLeft + style.boardSize / 2,
                    style.boardTop + style.boardSize + style.statusHeight / 2,
                    style.smallFontSize, style, `fill="${style.ink}"`));
    const byProbability = (arrows || []).slice().sort((a, b) => a[1] - b[1]);  // stable
    for (const [usi, probability] of byProbability) {
      parts.push(arrow(usi, probability, position, sideIndex, style));
    }
    const height = style.size * style.height / style.width;
    return `<svg width="${num(style.size)}" height="${num(height)}" ` +
      `viewBox="0 0 ${num(style.width)} ${num(style.height)}" ` +
      `font-family="${escapeText(style.fontFamily)}" data-side-to-move="${position.side}">` +
      `<title>${escapeText(sfen)}</title>${parts.join("")}</svg>`;
  }

  function analysisText(entry) {
    const parts = [];
    if (typeof entry.value === "number") {
      const sign = entry.value >= 0 ? "+" : "";
      parts.push(`value for the side to move: ${sign}${entry.value.toFixed(2)}`);
    }
    if (Array.isArray(entry.top_moves) && entry.top_moves.length) {
      parts.push("top moves: " + entry.top_moves
        .map(([usi, p]) => `${usi} ${percent(p)}`).join(", "));
    }
    return parts.join(" · ");
  }

  // Takes over one viewer (its <details data-game>): buttons, move list clicks, and goTo(ply).
  function attach(root, game, style, onActive) {
    const boardBox = root.querySelector(".board");
    const counter = root.querySelector(".ply");
    const analysis = root.querySelector(".analysis");
    const playButton = root.querySelector('button[data-action="play"]');
    const rows = Array.from(root.querySelectorAll("ol.moves li"));
    const last = game.plies.length - 1;
    let ply = 0, timer = null;

    function show(target) {
      ply = Math.max(0, Math.min(last, target));
      const entry = game.plies[ply];
      boardBox.innerHTML = boardSvg(entry.sfen, entry.usi || null, style, entry.top_moves);
      boardBox.setAttribute("data-ply", String(ply));
      counter.textContent = `${ply} / ${last}`;
      rows.forEach((row, k) => row.classList.toggle("current", k + 1 === ply));
      if (rows[ply - 1]) rows[ply - 1].scrollIntoView({block: "nearest"});
      const words = analysisText(entry);
      analysis.textContent = words;
      analysis.hidden = !words;
      if (ply === last) stop();
    }
    function stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      playButton.textContent = "play";
    }
    function play() {  // starts, or pauses a game playing
      if (timer !== null) { stop(); return; }
      if (ply === last) show(0);
      timer = setInterval(() => show(ply + 1), PLAY_MILLISECONDS);
      playButton.textContent = "pause";
    }
    const controller = {root, goTo: (target) => { stop(); show(target); },
                        step: (delta) => { stop(); show(ply + delta); }};
    const actions = {first: () => controller.goTo(0), back: () => controller.step(-1), play,
                     step: () => controller.step(1), last: () => controller.goTo(last)};
    root.querySelectorAll("button[data-action]").forEach((button) => {
      button.addEventListener("click", () => {
        onActive(controller);
        actions[button.dataset.action]();
      });
    });
    rows.forEach((row, k) => row.addEventListener("click", () => {
      onActive(controller);
      controller.goTo(k + 1);
    }));
    root.addEventListener("toggle", () => { if (root.open) onActive(controller); });
    show(0);
    return controller;
  }

  // Takes over every viewer of the page (their games in the JSON element `dataId`);
  // Left / Right (Home / End) move the active one.
  function start(doc, dataId) {
    const holder = doc.getElementById(dataId);
    if (!holder) return [];
    const data = JSON.parse(holder.textContent);
    let active = null;
    const onActive = (controller) => {
      if (active) active.root.classList.remove("active");
      active = controller;
      controller.root.classList.add("active");
    };
    const viewers = Array.from(doc.querySelectorAll("[data-game]"))
      .filter((root) => data.games[root.dataset.game])
      .map((root) => attach(root, data.games[root.dataset.game], data.board, onActive));
    const firstOpen = viewers.find((viewer) => viewer.root.open) || viewers[0];
    if (firstOpen) onActive(firstOpen);
    doc.addEventListener("keydown", (event) => {
      if (!active || event.altKey || event.ctrlKey || event.metaKey) return;
      const keys = {ArrowLeft: () => active.step(-1), ArrowRight: () => active.step(1),
                    Home: () => active.goTo(0), End: () => active.goTo(Infinity)};
      if (keys[event.key]) { keys[event.key](); event.preventDefault(); }
    });
    return viewers;
  }

  return {parseSfen, moveSquares, boardSvg, analysisText, start};
})();
