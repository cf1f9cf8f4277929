import type { DialectId } from '../dialects/index.js';

/**
 * One webhook example per dialect and canonical type, copied verbatim from the
 * provider's documents (test/fixtures/seeds; `ref` is `<document>:<line>`), so
 * `audian-bridge send` ships with them in dist/ and the image.
 * test/integration/cli-send.test.ts checks each against its seed.
 */
export interface SeedExample {
  readonly ref: string;
  readonly body: Readonly<Record<string, unknown>>;
}

export const SEED_EXAMPLES: Readonly<Record<DialectId, Readonly<Record<string, SeedExample>>>> = {
  "audian.v2": {
    "call.initiated": {
      "ref": "001:35",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:30:00Z",
        "event": "call.initiated",
        "data": {
          "call_id": "call_xyz789",
          "call_type": "outbound",
          "from": "+14155552671",
          "to": "+14155552672",
          "initiated_at": "2024-01-15T10:30:00Z"
        }
      }
    },
    "call.ringing": {
      "ref": "001:52",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:30:02Z",
        "event": "call.ringing",
        "data": {
          "call_id": "call_xyz789",
          "ringing_at": "2024-01-15T10:30:02Z"
        }
      }
    },
    "call.answered": {
      "ref": "001:66",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:30:05Z",
        "event": "call.answered",
        "data": {
          "call_id": "call_xyz789",
          "answered_by": "+14155552672",
          "answered_at": "2024-01-15T10:30:05Z"
        }
      }
    },
    "call.completed": {
      "ref": "001:81",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:35:10Z",
        "event": "call.completed",
        "data": {
          "call_id": "call_xyz789",
          "duration": 305,
          "status": "completed",
          "from": "+14155552671",
          "to": "+14155552672",
          "ended_at": "2024-01-15T10:35:10Z",
          "completion_reason": "normal"
        }
      }
    },
    "call.failed": {
      "ref": "001:100",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:30:10Z",
        "event": "call.failed",
        "data": {
          "call_id": "call_xyz789",
          "status": "failed",
          "reason": "no_answer",
          "reason_code": 408,
          "from": "+14155552671",
          "to": "+14155552672",
          "failed_at": "2024-01-15T10:30:10Z"
        }
      }
    },
    "call.cancelled": {
      "ref": "001:128",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:30:08Z",
        "event": "call.cancelled",
        "data": {
          "call_id": "call_xyz789",
          "status": "cancelled",
          "cancelled_at": "2024-01-15T10:30:08Z",
          "cancelled_by": "caller"
        }
      }
    },
    "call.transferred": {
      "ref": "001:146",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:33:00Z",
        "event": "call.transferred",
        "data": {
          "call_id": "call_xyz789",
          "transfer_from": "+14155552672",
          "transfer_to": "+14155552673",
          "transferred_at": "2024-01-15T10:33:00Z"
        }
      }
    },
    "call.held": {
      "ref": "001:162",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:33:30Z",
        "event": "call.held",
        "data": {
          "call_id": "call_xyz789",
          "held_at": "2024-01-15T10:33:30Z"
        }
      }
    },
    "call.resumed": {
      "ref": "001:176",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:34:00Z",
        "event": "call.resumed",
        "data": {
          "call_id": "call_xyz789",
          "resumed_at": "2024-01-15T10:34:00Z"
        }
      }
    },
    "call.muted": {
      "ref": "001:190",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:33:45Z",
        "event": "call.muted",
        "data": {
          "call_id": "call_xyz789",
          "muted_at": "2024-01-15T10:33:45Z"
        }
      }
    },
    "call.unmuted": {
      "ref": "001:204",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:34:15Z",
        "event": "call.unmuted",
        "data": {
          "call_id": "call_xyz789",
          "unmuted_at": "2024-01-15T10:34:15Z"
        }
      }
    },
    "recording.started": {
      "ref": "001:220",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:30:05Z",
        "event": "recording.started",
        "data": {
          "call_id": "call_xyz789",
          "recording_id": "rec_abc123",
          "started_at": "2024-01-15T10:30:05Z"
        }
      }
    },
    "recording.stopped": {
      "ref": "001:235",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:35:10Z",
        "event": "recording.stopped",
        "data": {
          "call_id": "call_xyz789",
          "recording_id": "rec_abc123",
          "duration": 305,
          "stopped_at": "2024-01-15T10:35:10Z"
        }
      }
    },
    "recording.completed": {
      "ref": "001:251",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:36:00Z",
        "event": "recording.completed",
        "data": {
          "call_id": "call_xyz789",
          "recording_id": "rec_abc123",
          "duration": 305,
          "file_size": 1024000,
          "file_format": "mp3",
          "download_url": "https://api.audian.com:8443/v2/recordings/rec_abc123/download",
          "completed_at": "2024-01-15T10:36:00Z"
        }
      }
    },
    "recording.failed": {
      "ref": "001:270",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:36:00Z",
        "event": "recording.failed",
        "data": {
          "call_id": "call_xyz789",
          "recording_id": "rec_abc123",
          "reason": "storage_error",
          "failed_at": "2024-01-15T10:36:00Z"
        }
      }
    },
    "ivr.input_received": {
      "ref": "001:288",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:31:00Z",
        "event": "ivr.input_received",
        "data": {
          "call_id": "call_xyz789",
          "menu_id": "menu_main",
          "input": "2",
          "input_type": "dtmf",
          "received_at": "2024-01-15T10:31:00Z"
        }
      }
    },
    "ivr.menu_presented": {
      "ref": "001:305",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:30:30Z",
        "event": "ivr.menu_presented",
        "data": {
          "call_id": "call_xyz789",
          "menu_id": "menu_main",
          "menu_name": "Main Menu",
          "options": [
            "1",
            "2",
            "3"
          ],
          "presented_at": "2024-01-15T10:30:30Z"
        }
      }
    },
    "ivr.timeout": {
      "ref": "001:322",
      "body": {
        "id": "evt_1234567890abcdef",
        "timestamp": "2024-01-15T10:31:30Z",
        "event": "ivr.timeout",
        "data": {
          "call_id": "call_xyz789",
          "menu_id": "menu_main",
          "timeout_duration": 30,
          "timed_out_at": "2024-01-15T10:31:30Z"
        }
      }
    }
  },
  "audian.hooks": {
    "call.completed": {
      "ref": "000:109",
      "body": {
        "id": "evt_1234567890",
        "account_id": "account_abc123",
        "hook": "channel_destroy",
        "timestamp": "2026-02-04T10:30:00Z",
        "data": {
          "call_id": "call_xyz789",
          "caller_id_number": "+14155559999",
          "callee_id_number": "+14155552671",
          "duration_seconds": 245,
          "hangup_cause": "NORMAL_CLEARING"
        }
      }
    }
  },
  "voice": {
    "call.initiated": {
      "ref": "004:33",
      "body": {
        "event_type": "call_initiated",
        "timestamp_utc": 1760084505,
        "payload": {
          "call_id": 1,
          "from": "+905555555555",
          "to": "+905555555554",
          "direction": "outbound",
          "source": "salprebox:SALPRE_AABBCCDD"
        },
        "is_test": true
      }
    },
    "call.ringing": {
      "ref": "004:48",
      "body": {
        "event_type": "call_ringing",
        "timestamp_utc": 1760084555,
        "payload": {
          "from": "+905555555555",
          "to": "+905555555554",
          "source": "salprebox:SALPRE_AABBCCDD",
          "direction": "outbound",
          "call_id": 1
        },
        "is_test": true
      }
    },
    "call.answered": {
      "ref": "004:63",
      "body": {
        "event_type": "call_answered",
        "timestamp_utc": 1760084576,
        "payload": {
          "from": "+905555555555",
          "to": "+905555555554",
          "source": "salprebox:SALPRE_AABBCCDD",
          "direction": "outbound",
          "call_id": 1
        },
        "is_test": true
      }
    },
    "transcript.segment": {
      "ref": "004:78",
      "body": {
        "event_type": "transcript",
        "timestamp_utc": 1760084622,
        "payload": {
          "call": {
            "id": 1,
            "from": "+905555555555",
            "to": "+905555555554",
            "source": "salprebox:SALPRE_AABBCCDD",
            "direction": "outbound"
          },
          "type": "customer",
          "transcript": "Hello, how are you?",
          "timestamp_utc": "111111"
        },
        "is_test": true
      }
    },
    "call.completed": {
      "ref": "004:98",
      "body": {
        "event_type": "call_ended",
        "timestamp_utc": 1760084597,
        "payload": {
          "from": "+905555555555",
          "to": "+905555555554",
          "direction": "outbound",
          "source": "salprebox:SALPRE_AABBCCDD",
          "call_id": 1,
          "transcript": [
            {
              "type": "ai",
              "message": "Greeting message"
            },
            {
              "type": "customer",
              "message": "customer message 1",
              "utc_timestamp": "111111"
            },
            {
              "type": "ai",
              "message": "Ai response 1",
              "utc_timestamp": "111111"
            }
          ]
        },
        "is_test": true
      }
    },
    "call.error": {
      "ref": "004:129",
      "body": {
        "event_type": "error",
        "timestamp_utc": 1760084656,
        "payload": {
          "call": {
            "id": 1,
            "from": "+905555555555",
            "to": "+905555555554",
            "source": "salprebox:SALPRE_AABBCCDD",
            "direction": "outbound"
          },
          "error_message": "Error message"
        },
        "is_test": true
      }
    }
  }
};
