// The terminal player (asciinema-player and its stylesheet), bundled by vite
// into a chunk of its own: loaded only when a recording is shown.

import 'asciinema-player/dist/bundle/asciinema-player.css';

export { create } from 'asciinema-player';
