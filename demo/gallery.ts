// The style gallery: the styles the server lists (models/index.json, written by scripts/serve.mjs), each a
// card with its painting's thumbnail, name, painter and year, and where the net comes from; one click (or
// Enter/Space: the cards are buttons) applies it.

/** One entry of models/index.json. */
export interface StyleEntry {
  /** File name without .safetensors: what `stylize --style` takes. */
  name: string;
  url: string;
  bytes: number;
  /** 'ours': trained by this project and shipped in models/; 'imported': another project's net (.models-ml5/). */
  origin: 'ours' | 'imported';
  /** The style name in the model file's metadata. */
  style: string;
  painting: { painter: string | null; title: string; year: string | null; rights: string | null } | null;
  /** Training steps of our nets. */
  steps: number | null;
  licence: string | null;
  source: string | null;
  /** URL of a thumbnail, or null when the server has no picture for it (the card then shows initials). */
  thumbnail: string | null;
}

/**
 * The server's list of styles; null when there is none (the page is on a plain static host, or an older
 * server): the page then offers its "own model file" card only.
 */
export async function fetchStyles(): Promise<StyleEntry[] | null> {
  try {
    const res = await fetch('models/index.json');
    if (!res.ok) return null;
    const body = (await res.json()) as { models?: unknown };
    return Array.isArray(body.models) ? (body.models as StyleEntry[]) : null;
  } catch {
    return null;
  }
}

/** "rain_princess" → "Rain princess". */
function humanise(name: string): string {
  const words = name.replace(/[_-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** What people call the style: the painting's title when we know it, else its name made readable. */
export function styleTitle(s: StyleEntry): string {
  return s.painting?.title ?? humanise(s.name);
}

/** "Vincent van Gogh, 1889", or null when the painting is not described. */
function byline(s: StyleEntry): string | null {
  const p = s.painting;
  if (!p?.painter) return null;
  return p.year ? `${p.painter}, ${p.year}` : p.painter;
}

/** Where the net comes from: a badge, a few words, and the terms it comes under. */
function provenance(s: StyleEntry): { badge: string; from: string; terms: string | null } {
  if (s.origin === 'ours') {
    return {
      badge: 'Ours',
      from: s.steps ? `trained here, ${s.steps} steps` : 'trained here',
      terms: s.painting?.rights ? `painting: ${s.painting.rights}` : null,
    };
  }
  const from = /ml5/i.test(`${s.source ?? ''} ${s.licence ?? ''}`) ? 'from ml5.js' : 'from another project';
  return { badge: 'Imported', from, terms: s.licence };
}

function make<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The card's picture: the thumbnail, or the title's initials on a tinted square when there is none. */
function picture(s: StyleEntry): HTMLElement {
  if (s.thumbnail) {
    const img = make('img', 'thumb');
    img.src = s.thumbnail;
    img.alt = '';
    img.decoding = 'async';
    // A thumbnail the server could not make after all: the initials instead of a broken image.
    img.addEventListener('error', () => img.replaceWith(initialsBox(s)), { once: true });
    return img;
  }
  return initialsBox(s);
}

function initialsBox(s: StyleEntry): HTMLElement {
  const initials = styleTitle(s)
    .split(/\s+/)
    .filter((w) => /^[A-Za-z0-9]/.test(w) && !/^(the|of|a|an)$/i.test(w))
    .slice(0, 2)
    .map((w) => w[0].toUpperCase())
    .join('');
  const box = make('span', 'thumb placeholder', initials || '?');
  box.setAttribute('aria-hidden', 'true');
  return box;
}

function card(s: StyleEntry): HTMLButtonElement {
  const b = make('button', 'style-card');
  b.type = 'button';
  b.dataset.url = s.url;
  b.dataset.name = s.name;
  b.setAttribute('aria-pressed', 'false');
  const { badge, from, terms } = provenance(s);
  b.append(picture(s), make('span', 'title', styleTitle(s)));
  const by = byline(s);
  if (by) b.append(make('span', 'by', by));
  const origin = make('span', `origin ${s.origin}`);
  origin.append(make('span', 'badge', badge), document.createTextNode(` ${from}`));
  b.append(origin);
  if (terms) b.append(make('span', 'terms', terms));
  return b;
}

export interface Gallery {
  /** Marks the card of this URL as the applied one (null: none, e.g. a model file of the user's). */
  select(url: string | null): void;
}

/**
 * Fills `list` with a card per style, before the "your own model" card that is already in it (`ownCard`).
 * `onPick` runs on a click (or Enter/Space) on a card.
 */
export function renderGallery(
  list: HTMLElement,
  ownCard: HTMLElement,
  styles: StyleEntry[],
  onPick: (s: StyleEntry) => void,
): Gallery {
  const cards = styles.map((s) => {
    const b = card(s);
    b.addEventListener('click', () => onPick(s));
    const item = make('li', 'gallery-item');
    item.append(b);
    list.insertBefore(item, ownCard);
    return b;
  });
  return {
    select(url) {
      for (const c of cards) c.setAttribute('aria-pressed', String(c.dataset.url === url));
    },
  };
}
