package report

import (
	"fmt"
	"strings"
	"time"
)

// Languages a report renders in.
const (
	LangJA = "ja"
	LangEN = "en"
)

// label is a text in both languages.
type label struct{ ja, en string }

func (l label) in(lang string) string {
	if lang == LangEN {
		return l.en
	}
	return l.ja
}

// tableLabels: title and the legal or methodological note under it.
var tableLabels = map[string][2]label{
	TApprovals: {{"承認の求め及び決定の件数（措置の種類別）", "Requests for approval and decisions, by measure"},
		{"第61条第2項第1号〜第3号及び第6号関係（法第17条第1項・第19条第1項・第32条第1項・第33条第1項、警察官職務執行法第6条の2、自衛隊法）。決定は、求めの措置の種類で分類。",
			"Art. 61(2) items 1–3 and 6 (acd-act 17(1), 19(1), 32(1), 33(1); police-duties-act 6-2; sdf-act). Decisions are classed by the measure of the request they decide."}},
	TMeasures: {{"アクセス・無害化措置（事前承認・緊急時の事後通知、対象の所在）", "Access and neutralization measures: prior approval or emergency, target location"},
		{"「緊急」は承認を待たずに実施され、事後に通知されるべき措置。事後通知の件数は通知の日で計上。",
			"\"Emergency\": taken before approval, to be notified afterwards. Emergency notices are counted by the date of the notice."}},
	TMeasureOutcomes: {{"措置の結果（実施主体別）", "Outcome of measures, by executor"}, {"", ""}},
	TSelectionVolumes: {{"自動選別後に記録された通信情報の件数（通信の方向・情報の種類別）", "Records kept after automatic selection, by direction and category"},
		{"内内通信は取得できず、個人のコミュニケーションの本質的内容は扱えないため、いずれも0でなければならない。",
			"Domestic-to-domestic (内内) traffic may not be acquired and essential content may not be handled: both must be 0."}},
	TSelectionBatches: {{"自動選別の実施状況（取得経路別）", "Automatic selection batches, by acquisition channel"}, {"", ""}},
	TDeletions: {{"消去の実施状況（期限内・期限超過）", "Deletions on time and late"},
		{"期限は本報告のパラメータによる（法定の期間は要確認）。", "Limits are the report's parameters (statutory values to be confirmed)."}},
	TProvisions:   {{"情報の提供（提供先の区分別）", "Provisions of information, by recipient class"}, {"法第8章関係。", "acd-act ch. 8."}},
	TAgreements:   {{"当事者協定（分野別）", "Consent agreements (当事者協定), by sector"}, {"", ""}},
	TAcquisitions: {{"取得の開始・終了（取得経路別）", "Acquisitions started and stopped, by channel"}, {"", ""}},
	TInspections:  {{"検査（第63条）", "Inspections (art. 63)"}, {"第61条第2項第4号関係。", "Art. 61(2) item 4."}},
	TOversightActions: {{"通知・要求・勧告及び回答", "Notices, demands, recommendations and responses"},
		{"第61条第2項第5号関係（第66条第1項、第67条第1項、第68条）。回答は、回答の対象の種類で分類。",
			"Art. 61(2) item 5 (arts. 66(1), 67(1), 68). Responses are classed by what they answer."}},
	TMonthly:         {{"月別の記録件数", "Monthly activity"}, {"", ""}},
	TEntriesByKind:   {{"記録の種類別件数", "Entries by kind"}, {"", ""}},
	TEntriesByAgency: {{"機関別記録件数", "Entries by agency"}, {"", ""}},
	TViolations: {{"規則違反（規則別）", "Rule violations found, by rule"},
		{"一つの記録が一つの規則に反する場合は、理由がいくつあっても1件と数える。", "An entry breaking one rule counts once, however many reasons it breaks it for."}},
	TIntegrityByKind: {{"受理規則に反する葉（記録が称する種類別）", "Leaves failing admission, by the kind they claim"},
		{"ログの運営者等が台帳を経ずに書き込んだ葉を含む。葉が称する内容は検証されておらず、他の集計には用いない。", "These may have been written around the ledger (e.g. by a log operator). What a leaf claims is unverified and used in no other figure."}},
	TIntegrityDirections: {{"受理規則に反する葉（称する通信の方向別）", "Leaves failing admission, by the directions they name"},
		{"内内は取得できないため、0でなければならない。", "Domestic-to-domestic (内内) may never be acquired: must be 0."}},
	TIntegrityVolumes: {{"受理規則に反する選別の葉が称する件数（方向・種類別）", "Records claimed by selection batches failing admission, by direction and category"},
		{"これらの件数は上の表の集計に含まれない。", "Not included in the selection figures above."}},
}

var columnLabels = map[string]label{
	"requests": {"求め", "requests"}, "decided": {"決定", "decided"}, "approved": {"承認", "approved"},
	"conditional": {"条件付承認", "conditional"}, "rejected": {"不承認", "rejected"}, "withdrawn": {"取下げ", "withdrawn"},
	"failures": {"葉の数", "leaves"}, "naming_nainai": {"内内を称する", "naming NAINAI (内内)"},
	"essential_content": {"本質的内容を計上", "counting essential content"},
	"executed":          {"実施", "executed"}, "approved_in_advance": {"事前承認", "approved in advance"},
	"emergency": {"緊急（事後通知）", "emergency"}, "without_authority": {"承認・緊急の別なし", "neither"},
	"domestic_target": {"国内の対象", "domestic target"}, "foreign_target": {"国外の対象", "foreign target"},
	"emergency_notices": {"事後通知", "emergency notices"}, "police": {"警察", "police"}, "sdf": {"自衛隊", "SDF"},
	"HEADER_META": {"ヘッダ等", "header/meta"}, "COMMAND_PAYLOAD": {"指令・攻撃コード等", "commands/payload"},
	"OTHER_MACHINE": {"その他の機械的情報", "other machine data"}, "ESSENTIAL_CONTENT": {"本質的内容", "essential content"},
	"total": {"合計", "total"}, "batches": {"回数", "batches"}, "records_in": {"入力件数", "records in"},
	"records_selected": {"選別後件数", "records selected"}, "records_deleted": {"消去件数", "records deleted"},
	"not_nonidentified": {"非識別化なし", "not non-identified"}, "on_time": {"期限内", "on time"}, "late": {"期限超過", "late"},
	"records_on_time": {"期限内（件数）", "records on time"}, "records_late": {"期限超過（件数）", "records late"},
	"provisions": {"提供", "provisions"}, "records": {"件数", "records"}, "deidentified": {"非識別化済み", "de-identified"},
	"not_deidentified": {"非識別化なし", "not de-identified"}, "analysis": {"分析情報", "analysis"}, "selected": {"選別後情報", "selected data"},
	"with_approval": {"承認あり", "with approval"}, "concluded": {"締結", "concluded"}, "amended": {"変更", "amended"},
	"terminated": {"終了", "terminated"}, "started": {"開始", "started"}, "stopped": {"終了", "stopped"},
	"inspections": {"検査", "inspections"}, "with_findings": {"指摘あり", "with findings"}, "findings": {"指摘事項", "findings"},
	"issued": {"発出", "issued"}, "responses": {"回答", "responses"}, "accepted": {"受入れ", "accepted"},
	"implemented": {"措置済み", "implemented"}, "partially_implemented": {"一部措置", "partially implemented"},
	"disputed": {"異議", "disputed"}, "entries": {"記録", "entries"}, "decisions": {"決定", "decisions"},
	"measures": {"措置", "measures"}, "emergency_measures": {"緊急措置", "emergency measures"}, "violations": {"違反", "violations"},
}

var rowLabels = map[string]label{
	"transit_sending":       {"外外通信目的送信措置（第17条第1項）", "transit sending (17(1))"},
	"incoming_sending":      {"特定外内通信目的送信措置（第32条第1項）", "specified incoming sending (32(1))"},
	"outgoing_sending":      {"特定内外通信目的送信措置（第33条第1項）", "specified outgoing sending (33(1))"},
	"extension_transit":     {"延長：外外（第19条第1項）", "extension: transit (19(1))"},
	"extension_incoming":    {"延長：特定外内（第32条第2項において準用する第19条第1項）", "extension: incoming (19(1) via 32(2))"},
	"extension_outgoing":    {"延長：特定内外（第33条第2項において準用する第19条第1項）", "extension: outgoing (19(1) via 33(2))"},
	"extension_unspecified": {"延長：方向の記載なし", "extension: direction not stated"},
	"police_measure":        {"警察：アクセス・無害化措置（警職法第6条の2）", "police measure (police-duties-act 6-2)"},
	"police_measure_abroad": {"警察：国外関係危害防止措置", "police measure abroad"},
	"sdf_protection":        {"自衛隊：通信防護措置", "SDF protection measure"},
	"neutralized":           {"無害化", "neutralized"}, "partially_neutralized": {"一部無害化", "partially neutralized"},
	"no_effect": {"効果なし", "no effect"}, "aborted": {"中止", "aborted"},
	"GAIGAI": {"外外", "transit (GAIGAI)"}, "GAINAI": {"外内", "incoming (GAINAI)"},
	"NAIGAI": {"内外", "outgoing (NAIGAI)"}, "NAINAI": {"内内", "domestic (NAINAI)"},
	"agreement":  {"当事者協定", "consent agreement"},
	"unselected": {"選別されなかった情報（直ちに消去）", "unselected data (immediate deletion)"},
	"retention":  {"保存期間の経過による消去", "retention deletion"},
	"agency":     {"行政機関", "agencies"}, "council": {"協議会", "council"}, "operator": {"事業者", "operators"},
	"foreign_government": {"外国の政府等", "foreign governments"},
	"energy":             {"エネルギー", "energy"}, "telecom": {"電気通信", "telecom"}, "finance": {"金融", "finance"},
	"transport": {"運輸", "transport"}, "water": {"水道", "water"}, "medical": {"医療", "medical"},
	"government": {"政府", "government"}, "logistics": {"物流", "logistics"}, "other": {"その他", "other"},
	"paragraph_1": {"第63条第1項", "art. 63(1)"}, "paragraph_2": {"第63条第2項", "art. 63(2)"},
	"notice": {"通知（第66条第1項）", "notices (66(1))"}, "demand": {"要求（第67条第1項）", "demands (67(1))"},
	"recommendation":      {"勧告（第68条）", "recommendations (68)"},
	rowUnknownRequest:     {"求めが見当たらない決定", "decision of an unknown request"},
	rowUnknownMeasure:     {"措置が見当たらない通知", "notice of an unknown measure"},
	rowUnknownAcquisition: {"取得が見当たらないもの", "unknown acquisition"},
	rowUnknownAgreement:   {"協定が見当たらないもの", "unknown agreement"},
	rowUnreadable:         {"読めない葉", "unreadable leaf"},
	rowUnknownKind:        {"不明な種類", "unknown kind"},
}

// text holds the page's fixed wording.
var text = map[string]label{
	"title.fiscal":        {"サイバー通信情報監理委員会 年次報告 %d年度（令和%d年度）", "Cyber Communications Information Oversight Commission — annual report, fiscal year %d"},
	"title.calendar":      {"サイバー通信情報監理委員会 年次報告 %d年", "Cyber Communications Information Oversight Commission — annual report, %d"},
	"period":              {"対象期間", "Period"},
	"input":               {"この報告の入力", "What this report is computed from"},
	"log":                 {"ログ", "Log"},
	"tree_size":           {"ツリーサイズ（記録数）", "Tree size (entries)"},
	"root_hash":           {"ルートハッシュ", "Root hash"},
	"cosigners":           {"連署した証人", "Cosigned by witnesses"},
	"none":                {"なし", "none"},
	"in_period":           {"期間内の記録", "Entries in the period"},
	"index_range":         {"その索引の範囲", "Their index range"},
	"failures":            {"受理規則に反する葉（集計から除外）", "Leaves failing admission (left out of every figure)"},
	"parameters":          {"パラメータ", "Parameters"},
	"immediate":           {"選別後の直ちに消去の期限", "Immediate deletion limit"},
	"retention_limit":     {"保存期間の上限", "Retention limit"},
	"deadline_grace":      {"期限の評価時点（期間末からの猶予）", "Deadlines judged this long after the period's end"},
	"reasons":             {"理由", "reasons"},
	"recompute":           {"各数値は、公開されたログから誰でも再計算できる（`acdledger report verify`）。各記録の公開部分（body）のみを用い、秘匿部分は用いない。", "Every figure can be recomputed by anyone from the published log (`acdledger report verify`). Only each entry's header and public body are read, never its sealed part."},
	"basis_rule":          {"期間は発生日時（occurred_at、日本時間）による。", "Entries belong to the period by occurred_at, in Japan time (+09:00)."},
	"band":                {"1以上%d未満の数は「%d未満」と表示する（報告の JSON は正確な数を持つ）。", "Counts above 0 and below %d are shown as \"<%d\" (report.json holds the exact figures)."},
	"charts":              {"図", "Charts"},
	"chart.monthly":       {"各月に発生した記録の件数", "Entries per month"},
	"chart.monthly.desc":  {"対象期間の各月に発生した記録の件数の棒グラフ。", "Bar chart of the number of entries that occurred in each month of the period."},
	"chart.measures":      {"措置：事前承認と緊急（事後通知）", "Measures: approved in advance vs emergency"},
	"chart.measures.desc": {"措置の種類ごとに、事前承認を得て実施した件数と緊急に実施した件数を並べた横棒グラフ。", "Grouped horizontal bars: per measure type, measures approved in advance and emergency measures."},
	"chart.volumes":       {"自動選別後に記録された件数（通信の方向別）", "Records kept after selection, by direction"},
	"chart.volumes.desc":  {"通信の方向ごとに、情報の種類別の件数を積み上げた横棒グラフ。", "Stacked horizontal bars: per direction, records by category."},
	"integrity":           {"ログの完全性", "Log integrity"},
	"integrity.text":      {"本報告は、ログ %s のツリーサイズ %d、ルートハッシュ %s のチェックポイント（ログ鍵で署名%s）に基づく。このツリーを構成する全ての葉を再読込し、マークルツリーとタイルを再計算し、全記録の署名と受理規則を再検査した。", "This report is computed from log %s at tree size %d, root hash %s (a checkpoint signed by the log key%s). Every leaf of that tree was re-read, the Merkle tree and its tiles recomputed, and every entry's signature and admission rules re-checked."},
	"integrity.cosigned":  {"、証人 %s が連署", ", cosigned by witnesses %s"},
	"checkpoint":          {"署名付きチェックポイント", "Signed checkpoint"},
	"rules":               {"規則違反", "Rule violations"},
	"rules.text":          {"規則設定 %s、評価時点 %s。対象期間の記録に関するもの。", "Rules configuration %s, evaluated as of %s; violations of entries in the period."},
	"rules.none":          {"違反は見つからなかった。", "No violations were found."},
	"rules.list":          {"違反の一覧", "List of violations"},
	"rule":                {"規則", "rule"},
	"index":               {"索引", "index"},
	"entry":               {"記録ID", "entry id"},
	"case":                {"事案", "case"},
	"row":                 {"区分", ""},
	"generated":           {"acdledger により report.json から生成。", "Rendered by acdledger from report.json."},
	"seconds":             {"%s秒", "%s s"},
	"minutes":             {"%s分", "%s min"},
	"hours":               {"%s時間", "%s h"},
	"days":                {"%s日", "%s days"},
}

func tr(lang, key string) string { return text[key].in(lang) }

func tableTitle(lang, id string) string {
	if l, ok := tableLabels[id]; ok {
		return l[0].in(lang)
	}
	return id
}

func tableNote(lang, id string) string { return tableLabels[id][1].in(lang) }

func columnLabel(lang, c string) string {
	if l, ok := columnLabels[c]; ok {
		return l.in(lang)
	}
	return c
}

// rowLabel names a row; months and unknown keys (agency ids, kinds, rule
// ids) are shown as they are, months in the language's style.
func rowLabel(lang, table, key string) string {
	if table == TMonthly {
		if t, err := time.Parse("2006-01", key); err == nil {
			if lang == LangEN {
				return t.Format("Jan 2006")
			}
			return fmt.Sprintf("%d年%d月", t.Year(), int(t.Month()))
		}
	}
	if l, ok := rowLabels[key]; ok && table != TEntriesByKind && table != TEntriesByAgency && table != TViolations && table != TIntegrityByKind {
		return l.in(lang)
	}
	return key
}

func title(lang string, p Period) string {
	if p.Basis == BasisCalendar {
		return fmt.Sprintf(tr(lang, "title.calendar"), p.Year)
	}
	if lang == LangEN {
		return fmt.Sprintf(tr(lang, "title.fiscal"), p.Year)
	}
	return fmt.Sprintf(tr(lang, "title.fiscal"), p.Year, p.Year-2018)
}

// periodText renders the period as its first and last day.
func periodText(p Period) string {
	from, until := p.bounds()
	last := until.Add(-time.Nanosecond).In(JST)
	return from.In(JST).Format("2006-01-02") + " – " + last.Format("2006-01-02") + " (JST)"
}

// number renders a count with thousands separators, or its band.
func number(lang string, n, band uint64) string {
	if band > 1 && n > 0 && n < band {
		if lang == LangEN {
			return fmt.Sprintf("<%d", band)
		}
		return fmt.Sprintf("%d未満", band)
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// duration renders a parameter in the largest whole unit.
func duration(lang string, secs int64) string {
	for _, u := range []struct {
		key string
		n   int64
	}{{"days", 86400}, {"hours", 3600}, {"minutes", 60}} {
		if secs > 0 && secs%u.n == 0 {
			return fmt.Sprintf(tr(lang, u.key), number(lang, uint64(secs/u.n), 0))
		}
	}
	return fmt.Sprintf(tr(lang, "seconds"), number(lang, uint64(secs), 0))
}
