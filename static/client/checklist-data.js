// The built-in copy of the checklist: exactly what GET /api/v1/checklist answers
// (app.domain.checklist_document()), used when the server's copy was never fetched on this device.
// tests/test_client_checklist.py fails when it differs from the server's; to refresh it, run
//   python -m tests.test_client_checklist
export const CHECKLIST_DOCUMENT = {
  "version": 1,
  "aspects": [
    {
      "aspect": "garbage",
      "metric": "garbage_stable",
      "title": "Garbage collection and transfer",
      "title_zh": "农村生活垃圾收转运",
      "indicator_zh": "农村生活垃圾收转运体系稳定运行率",
      "items": [
        {
          "key": "collection_points",
          "type": "boolean",
          "label": "Collection points are in place and in use",
          "label_zh": "垃圾收集点设置到位、正常使用"
        },
        {
          "key": "collected_on_schedule",
          "type": "boolean",
          "label": "Garbage is collected on schedule",
          "label_zh": "垃圾按时清运"
        },
        {
          "key": "transfer_working",
          "type": "boolean",
          "label": "Transfer to the township/county works",
          "label_zh": "转运设施运转正常"
        },
        {
          "key": "no_informal_dumping",
          "type": "boolean",
          "label": "No informal dumping",
          "label_zh": "无乱堆乱倒"
        }
      ],
      "met": {
        "rule": "all_true",
        "items": [
          "collection_points",
          "collected_on_schedule",
          "transfer_working",
          "no_informal_dumping"
        ]
      },
      "met_text": "met when all four items are true",
      "met_text_zh": "四项均为“是”即达标"
    },
    {
      "aspect": "sewage",
      "metric": "sewage_treated",
      "title": "Domestic sewage treatment",
      "title_zh": "农村生活污水治理",
      "indicator_zh": "生活污水治理率",
      "items": [
        {
          "key": "mode",
          "type": "choice",
          "label": "Treatment mode",
          "label_zh": "治理模式",
          "choices": [
            {
              "value": "town_network",
              "label": "Connected to the town sewer network",
              "label_zh": "纳入城镇污水管网"
            },
            {
              "value": "village_plant",
              "label": "Village treatment plant",
              "label_zh": "村级污水处理站"
            },
            {
              "value": "small_facility",
              "label": "Small decentralised facility",
              "label_zh": "分散式小型处理设施"
            },
            {
              "value": "sanitary_toilets_reuse",
              "label": "Sanitary toilets with resource reuse",
              "label_zh": "卫生厕所改造与资源化利用"
            },
            {
              "value": "none",
              "label": "No treatment",
              "label_zh": "未治理"
            }
          ]
        },
        {
          "key": "households_covered",
          "type": "integer",
          "required": false,
          "min": 0,
          "label": "Households covered",
          "label_zh": "覆盖户数",
          "column": "sewage_households_covered"
        }
      ],
      "met": {
        "rule": "one_of",
        "item": "mode",
        "values": [
          "town_network",
          "village_plant",
          "small_facility",
          "sanitary_toilets_reuse"
        ]
      },
      "met_text": "met when a treatment mode other than 'none' is in place",
      "met_text_zh": "采用任一治理模式（非“未治理”）即达标"
    },
    {
      "aspect": "cleanliness",
      "metric": "village_clean",
      "title": "Village clean, tidy and orderly (村庄清洁行动)",
      "title_zh": "村庄干净整洁有序",
      "indicator_zh": "村庄干净整洁有序",
      "items": [
        {
          "key": "no_garbage_piles",
          "type": "boolean",
          "label": "No garbage piles",
          "label_zh": "清理农村生活垃圾，无垃圾堆放"
        },
        {
          "key": "ponds_ditches_clean",
          "type": "boolean",
          "label": "Ponds and ditches are clean",
          "label_zh": "清理村内塘沟"
        },
        {
          "key": "manure_handled",
          "type": "boolean",
          "label": "Livestock manure is handled",
          "label_zh": "清理畜禽养殖粪污等农业生产废弃物"
        },
        {
          "key": "public_spaces_orderly",
          "type": "boolean",
          "label": "Public spaces are orderly",
          "label_zh": "公共空间整洁有序"
        }
      ],
      "met": {
        "rule": "all_true",
        "items": [
          "no_garbage_piles",
          "ponds_ditches_clean",
          "manure_handled",
          "public_spaces_orderly"
        ]
      },
      "met_text": "met when all four items are true",
      "met_text_zh": "四项均为“是”即达标"
    },
    {
      "aspect": "tap_water",
      "metric": "tap_water",
      "title": "Tap water in households",
      "title_zh": "自来水入户",
      "indicator_zh": "自来水入户率",
      "optional": true,
      "photo_required": false,
      "items": [
        {
          "key": "households",
          "type": "integer",
          "min": 1,
          "label": "Households in the village",
          "label_zh": "总户数",
          "column": "tap_households"
        },
        {
          "key": "households_with_tap",
          "type": "integer",
          "min": 0,
          "max_item": "households",
          "label": "Households with tap water",
          "label_zh": "自来水入户户数",
          "column": "tap_households_with_tap"
        }
      ],
      "met": {
        "rule": "share_at_least",
        "numerator": "households_with_tap",
        "denominator": "households",
        "value": 0.98
      },
      "met_text": "met when at least 98 % of households have tap water (rates weight by households)",
      "met_text_zh": "自来水入户率不低于 98% 即达标（汇总时按户数加权）"
    }
  ]
};
