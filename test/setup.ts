// Every test process starts as the CLI and the workers do, so tests compute the numbers they do.
import { enableRelaxedSimd } from '../src/engine/index.js';

enableRelaxedSimd();
