import { Random } from '../util/index.js';
import type { Metric } from './topics.js';

/** One reading of one metric. */
export interface Reading {
  metric: Metric;
  v: number;
  unit: string;
}

/** An alert a device raises when a reading crosses a threshold (edge-triggered, with hysteresis). */
export interface SensorAlert {
  type: 'high-temperature' | 'low-battery' | 'manual';
  message: string;
  v: number;
}

/** Thresholds of the alerts; exported so docs and tests use the same numbers. */
export const THRESHOLDS = {
  highTemperature: 30,
  temperatureHysteresis: 1,
  lowBattery: 15,
  batteryReplacedBelow: 3,
} as const;

const UNITS: Record<Metric, string> = { temperature: '°C', humidity: '%', battery: '%' };

/**
 * Plausible sensors for one device:
 * - temperature: mean-reverting random walk (Ornstein–Uhlenbeck) around the device's base, plus a
 *   day/night swing, measurement noise, and now and then a heat event that decays;
 * - humidity: follows the temperature inversely around its own base, clamped to 0–100 %;
 * - battery: drains a little per reading; someone swaps it when it is nearly empty.
 */
export class SensorModel {
  private readonly random: Random;
  private readonly baseTemperature: number;
  private readonly baseHumidity: number;
  private readonly drainPerReading: number;
  private drift = 0;
  private heat = 0;
  private humidityDrift = 0;
  private battery: number;
  private temperatureHigh = false;
  private batteryLow = false;
  private readonly heatEventProbability: number;

  constructor(seed: number, options: { heatEventProbability?: number } = {}) {
    this.random = new Random(seed);
    this.baseTemperature = this.random.between(18, 25);
    this.baseHumidity = this.random.between(35, 60);
    this.drainPerReading = this.random.between(0.02, 0.08);
    this.battery = this.random.between(40, 100);
    this.heatEventProbability = options.heatEventProbability ?? 0.003;
  }

  /** The next readings at time `now` (epoch ms), and the alerts their values raise. */
  step(now: number): { readings: Reading[]; alerts: SensorAlert[] } {
    const r = this.random;
    // OU step: pull back to 0 by 5 % per reading, push by noise.
    this.drift += -0.05 * this.drift + 0.15 * r.gaussian();
    if (this.heat < 0.1 && r.next() < this.heatEventProbability) this.heat = r.between(8, 16);
    this.heat *= 0.97;
    const hour = new Date(now).getHours() + new Date(now).getMinutes() / 60;
    const dayNight = 1.5 * Math.sin(((hour - 9) / 24) * 2 * Math.PI);
    // Thresholds are checked on the values as reported, so an alert's value is always past its threshold.
    const temperature = round(this.baseTemperature + dayNight + this.drift + this.heat + 0.05 * r.gaussian(), 2);

    this.humidityDrift += -0.05 * this.humidityDrift + 0.3 * r.gaussian();
    const humidity = round(clamp(this.baseHumidity - 1.2 * (temperature - this.baseTemperature) + this.humidityDrift, 0, 100), 1);

    this.battery -= this.drainPerReading * (1 + 0.2 * r.gaussian());
    if (this.battery < THRESHOLDS.batteryReplacedBelow) this.battery = 100;
    const battery = round(clamp(this.battery, 0, 100), 1);

    const alerts: SensorAlert[] = [];
    if (!this.temperatureHigh && temperature > THRESHOLDS.highTemperature) {
      this.temperatureHigh = true;
      alerts.push({
        type: 'high-temperature',
        message: `temperature ${temperature.toFixed(2)} °C above ${THRESHOLDS.highTemperature} °C`,
        v: temperature,
      });
    } else if (this.temperatureHigh && temperature < THRESHOLDS.highTemperature - THRESHOLDS.temperatureHysteresis) {
      this.temperatureHigh = false;
    }
    if (!this.batteryLow && battery < THRESHOLDS.lowBattery) {
      this.batteryLow = true;
      alerts.push({ type: 'low-battery', message: `battery ${battery.toFixed(1)} % below ${THRESHOLDS.lowBattery} %`, v: battery });
    } else if (this.batteryLow && battery > THRESHOLDS.lowBattery) {
      this.batteryLow = false;
    }
    return {
      readings: [
        { metric: 'temperature', v: temperature, unit: UNITS.temperature },
        { metric: 'humidity', v: humidity, unit: UNITS.humidity },
        { metric: 'battery', v: battery, unit: UNITS.battery },
      ],
      alerts,
    };
  }

  /** Battery level now, for command replies. */
  get batteryLevel(): number {
    return round(clamp(this.battery, 0, 100), 1);
  }
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, v));
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
