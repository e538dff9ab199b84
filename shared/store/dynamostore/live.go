package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// maxTransactItems is the most items one TransactWriteItems takes.
const maxTransactItems = 100

// maxDueScan bounds the entries DueSessions reads of one shard.
const maxDueScan = 5000

// errStale marks a write whose condition failed: what it was decided on
// changed since it was read.
var errStale = errors.New("dynamostore: changed since read")

// snapshot is a session as read, with what the store needs to write it
// back: its own item's version and counter version, and where each item
// read is filed in the due list (SK → GSI1SK, absent when not filed).
type snapshot struct {
	s       domain.Session
	ver, cv int64
	due     map[string]string
}

// GetSession returns a session with every member, question and vote.
func (d *DB) GetSession(ctx context.Context, id domain.SessionID) (domain.Session, error) {
	snap, err := d.read(ctx, id, store.AllLoad, true)
	if err != nil {
		return domain.Session{}, fmt.Errorf("dynamostore: get session %s: %w", id, err)
	}
	return snap.s, nil
}

// ReadSession returns a session with what load names: its own item and
// the members strongly consistent, questions and votes eventually
// consistent.
func (d *DB) ReadSession(ctx context.Context, id domain.SessionID, load store.Load) (domain.Session, error) {
	snap, err := d.read(ctx, id, load, false)
	if err != nil {
		return domain.Session{}, fmt.Errorf("dynamostore: read session %s: %w", id, err)
	}
	return snap.s, nil
}

// session returns a session's own item alone, strongly consistent.
func (d *DB) session(ctx context.Context, id domain.SessionID) (domain.Session, bool, error) {
	var it sessionItem
	ok, err := d.get(ctx, sessionKey(id), &it)
	if err != nil || !ok {
		return domain.Session{}, false, err
	}
	s, err := it.domain()
	if err != nil {
		return domain.Session{}, false, err
	}
	return s, true, nil
}

// read reads the session item and what load names. The session item and
// the members are always read strongly consistent; questions and votes
// too when all is set. Named items come in one BatchGetItem with the
// session item (two calls when the stage's members are wanted, which the
// session item names); whole ranges (every member, every question, a
// member's votes) are queries of the session's partition.
func (d *DB) read(ctx context.Context, id domain.SessionID, load store.Load, all bool) (snapshot, error) {
	snap := snapshot{due: map[string]string{}}
	var head map[string]types.AttributeValue
	var named []key
	if !load.AllMembers {
		for _, u := range load.Members {
			named = append(named, memberKey(id, u))
		}
	}
	if !load.AllQuestions {
		for _, q := range load.Questions {
			named = append(named, questionKey(id, q))
		}
	}
	items := map[string]map[string]types.AttributeValue{}
	collect := func(item map[string]types.AttributeValue) error {
		sk, _ := item[attrSK].(*types.AttributeValueMemberS)
		if sk == nil {
			return nil
		}
		if sk.Value == skMeta {
			head = item
		} else {
			items[sk.Value] = item
		}
		return nil
	}
	if load.Stage || len(named) == 0 {
		res, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(d.table), Key: keyAV(sessionKey(id)), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return snap, err
		}
		head = res.Item
	} else if err := d.batchGet(ctx, append([]key{sessionKey(id)}, dedupe(named)...), collect); err != nil {
		return snap, err
	}
	var hit sessionItem
	ok, err := d.decode(head, &hit)
	if err != nil {
		return snap, err
	}
	if !ok {
		return snap, store.ErrNotFound
	}
	s, err := hit.domain()
	if err != nil {
		return snap, err
	}
	snap.ver, snap.cv = hit.Ver, hit.CV
	snap.due[skMeta] = hit.GSI1SK
	if load.Stage {
		for _, u := range s.OnStage() {
			if !slices.Contains(load.Members, u) {
				named = append(named, memberKey(id, u))
			}
		}
		if len(named) > 0 {
			if err := d.batchGet(ctx, dedupe(named), collect); err != nil {
				return snap, err
			}
		}
	}
	pk := sessionPK(id)
	if load.AllMembers {
		if err := d.queryPrefix(ctx, pk, prefixMember, true, collect); err != nil {
			return snap, err
		}
	}
	if load.AllQuestions {
		if err := d.queryPrefix(ctx, pk, prefixQuestion, all, collect); err != nil {
			return snap, err
		}
	}
	voters := map[string][]domain.UserID{}
	votes := func(item map[string]types.AttributeValue) error {
		var v voteItem
		if err := attributevalue.UnmarshalMap(item, &v); err != nil {
			return err
		}
		if u, q, ok := voteParts(v.SK); ok {
			voters[q] = append(voters[q], u)
		}
		return nil
	}
	switch {
	case load.AllVotes:
		if err := d.queryPrefix(ctx, pk, prefixVote, all, votes); err != nil {
			return snap, err
		}
	case load.VotesOf != "":
		if err := d.queryPrefix(ctx, pk, votePrefix(load.VotesOf), all, votes); err != nil {
			return snap, err
		}
	}
	sks := make([]string, 0, len(items))
	for sk := range items {
		sks = append(sks, sk)
	}
	slices.Sort(sks)
	for _, sk := range sks {
		item := items[sk]
		switch {
		case strings.HasPrefix(sk, prefixMember):
			var it memberItem
			ok, err := d.decode(item, &it)
			if err != nil {
				return snap, err
			}
			if ok {
				s.Live.Members = append(s.Live.Members, it.domain())
				snap.due[sk] = it.GSI1SK
			}
		case strings.HasPrefix(sk, prefixQuestion):
			var it questionItem
			ok, err := d.decode(item, &it)
			if err != nil {
				return snap, err
			}
			if ok {
				q := it.domain()
				q.Voters = voters[q.ID]
				s.Live.Questions = append(s.Live.Questions, q)
			}
		}
	}
	store.Canonical(&s)
	s.Live.Partial = !load.AllMembers
	s.Mirror()
	snap.s = s
	return snap, nil
}

// dedupe drops repeated keys, keeping the first.
func dedupe(keys []key) []key {
	seen := map[key]bool{}
	out := keys[:0:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// UpdateSession is Update reading everything.
func (d *DB) UpdateSession(ctx context.Context, id domain.SessionID, fn func(*domain.Session) error) (domain.Session, error) {
	return d.Update(ctx, id, store.AllLoad, fn)
}

// Update reads what load names, calls fn on a copy and writes what fn
// changed (store.Diff) in one conditional write of one item, or one
// TransactWriteItems of several: a member's item on condition that it
// has the version read (or does not exist yet), the session item on
// condition that it has the version read and that the counters that grow
// stay within their limits, a vote on condition that it does not exist.
// A failed condition means something changed since the read: it reads
// again and calls fn again after a jittered pause, up to the DB's
// attempts, then store.ErrContention. Numbers of the hand queue and the
// questions come from an atomic counter (ADD seq) before the write, so
// that raising hands or asking at once never conflict; a number handed
// out by an attempt that then failed is simply never used.
//
// Members read whose place in the due list changed without their item
// changing (their due time follows the session item) are moved by a
// conditional write each after the main one; one that fails is moved the
// next time that member is read.
func (d *DB) Update(ctx context.Context, id domain.SessionID, load store.Load, fn func(*domain.Session) error) (domain.Session, error) {
	l := load
	for attempt := range d.maxAttempts {
		if attempt > 0 {
			if err := d.backoff(ctx, attempt); err != nil {
				return domain.Session{}, fmt.Errorf("dynamostore: update session %s after %d attempts: %w", id, attempt, err)
			}
		}
		snap, err := d.read(ctx, id, l, true)
		if err != nil {
			return domain.Session{}, fmt.Errorf("dynamostore: update session %s: %w", id, err)
		}
		read := snap.s
		work, err := store.Clone(read)
		if err != nil {
			return domain.Session{}, fmt.Errorf("dynamostore: update session %s: %w", id, err)
		}
		err = fn(&work)
		if errors.Is(err, domain.ErrPartial) && !l.AllMembers {
			l = l.WithAllMembers()
			continue
		}
		if err != nil {
			return read, fmt.Errorf("dynamostore: update session %s: %w", id, err)
		}
		out, err := d.writeBack(ctx, snap, &work)
		if errors.Is(err, errStale) {
			continue
		}
		if err != nil {
			return domain.Session{}, fmt.Errorf("dynamostore: update session %s: %w", id, err)
		}
		return out, nil
	}
	return domain.Session{}, fmt.Errorf("dynamostore: update session %s: %d attempts: %w", id, d.maxAttempts, store.ErrContention)
}

// writeBack writes what work changed of the snapshot and returns the
// session as stored.
func (d *DB) writeBack(ctx context.Context, snap snapshot, work *domain.Session) (domain.Session, error) {
	read := &snap.s
	p := store.Diff(read, work)
	if p.Seq > 0 {
		top, err := d.allocSeq(ctx, read.ID, p.Seq)
		if err != nil {
			return domain.Session{}, err
		}
		p.Renumber(work, read.Live.Seq, top-p.Seq)
	}
	out := *work
	out.ID, out.Kind, out.Title, out.EventID, out.EmployerID = read.ID, read.Kind, read.Title, read.EventID, read.EmployerID
	out.HostID, out.GroupID, out.Speakers, out.Start, out.End = read.HostID, read.GroupID, read.Speakers, read.Start, read.End
	out.Capacity, out.Registered, out.Stage, out.CreatedAt, out.Version = read.Capacity, read.Registered, read.Stage, read.CreatedAt, read.Version
	now := d.clock.Now()
	var items []types.TransactWriteItem
	if p.HeadWritten() {
		it, err := d.headWrite(snap, &out, p)
		if err != nil {
			return domain.Session{}, err
		}
		items = append(items, it)
		out.Version++
	}
	written := map[string]bool{}
	for _, w := range p.Members {
		if w.After == nil {
			k := memberKey(read.ID, w.Before.UserID)
			written[k.SK] = true
			items = append(items, types.TransactWriteItem{Delete: &types.Delete{
				TableName:                 aws.String(d.table),
				Key:                       keyAV(k),
				ConditionExpression:       aws.String("#ver = :ver"),
				ExpressionAttributeNames:  map[string]string{"#ver": attrVer},
				ExpressionAttributeValues: map[string]types.AttributeValue{":ver": num64(w.Before.Version)},
			}})
			continue
		}
		ver := int64(1)
		cond := "attribute_not_exists(PK)"
		var names map[string]string
		var values map[string]types.AttributeValue
		if w.Before != nil {
			ver = w.Before.Version + 1
			cond = "#ver = :ver"
			names = map[string]string{"#ver": attrVer}
			values = map[string]types.AttributeValue{":ver": num64(w.Before.Version)}
		}
		w.After.Version = ver
		it := toMemberItem(read.ID, *w.After, ver, out.MemberDue(*w.After), now.Add(domain.RemovedTTL))
		written[it.SK] = true
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			return domain.Session{}, fmt.Errorf("encode member %s: %w", w.After.UserID, err)
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(d.table), Item: av, ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		}})
	}
	for _, w := range p.Questions {
		it, err := d.questionWrite(read.ID, w)
		if err != nil {
			return domain.Session{}, err
		}
		items = append(items, it)
	}
	for _, v := range p.Votes {
		k := voteKey(read.ID, v.UserID, v.QuestionID)
		av, err := attributevalue.MarshalMap(voteItem(k))
		if err != nil {
			return domain.Session{}, err
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(d.table), Item: av, ConditionExpression: aws.String("attribute_not_exists(PK)"),
		}})
	}
	if len(items) > maxTransactItems {
		return domain.Session{}, fmt.Errorf("%d items: %w", len(items), store.ErrTooLarge)
	}
	if err := d.writeItems(ctx, items); err != nil {
		return domain.Session{}, err
	}
	d.moveDue(ctx, snap, &out, written)
	store.Canonical(&out)
	out.Mirror()
	return out, nil
}

// headWrite is the write of the session's own item: its state under its
// version (when it changed), its counters within their limits, its place
// in the due list.
func (d *DB) headWrite(snap snapshot, out *domain.Session, p store.Plan) (types.TransactWriteItem, error) {
	names := map[string]string{"#ver": attrVer}
	values := map[string]types.AttributeValue{":ver": num64(snap.ver), ":one": num(1)}
	conds := []string{"#ver = :ver"}
	var sets, adds, removes []string
	if p.Fields {
		live, err := encodeHead(out)
		if err != nil {
			return types.TransactWriteItem{}, err
		}
		names["#live"], names["#status"] = attrLive, attrStatus
		values[":live"], values[":status"] = str(live), str(string(out.Status))
		sets = append(sets, "#live = :live", "#status = :status", "#ver = #ver + :one")
	} else {
		names["#cv"] = attrCV
		values[":zero"] = num(0)
		sets = append(sets, "#cv = if_not_exists(#cv, :zero) + :one")
	}
	if p.Spots != 0 {
		names["#spots"] = attrSpots
		values[":ds"] = num(p.Spots)
		adds = append(adds, "#spots :ds")
		if p.Spots > 0 {
			limit, byReg := out.SpotLimit()
			values[":slim"] = num(limit - p.Spots)
			conds = append(conds, "#spots <= :slim")
			if byReg {
				names["#reg"] = attrRegistered
				values[":reg"] = num(snap.s.Registered)
				conds = append(conds, "#reg = :reg")
			}
		}
	}
	if p.QuestionCount != 0 {
		names["#qn"] = attrQuestions
		values[":dq"] = num(p.QuestionCount)
		adds = append(adds, "#qn :dq")
		if p.QuestionCount > 0 {
			values[":qlim"] = num(domain.MaxQuestions - p.QuestionCount)
			conds = append(conds, "#qn <= :qlim")
		}
	}
	if p.Pruned != 0 {
		names["#pruned"] = attrPruned
		values[":dp"] = num64(p.Pruned)
		adds = append(adds, "#pruned :dp")
	}
	// The session's place in the due list is written only when it moves:
	// an index entry rewritten costs a write even when it stays the same.
	want := ""
	var ik indexKey
	if due := out.HeadDue(); !due.IsZero() {
		ik = dueIndexKey(due, out.ID, skMeta)
		want = ik.SK
	}
	if want != snap.due[skMeta] {
		names["#gpk"], names["#gsk"] = attrGSI1PK, attrGSI1SK
		if want != "" {
			values[":gpk"], values[":gsk"] = str(ik.PK), str(ik.SK)
			sets = append(sets, "#gpk = :gpk", "#gsk = :gsk")
		} else {
			removes = append(removes, "#gpk", "#gsk")
		}
	}
	expr := "SET " + strings.Join(sets, ", ")
	if len(adds) > 0 {
		expr += " ADD " + strings.Join(adds, ", ")
	}
	if len(removes) > 0 {
		expr += " REMOVE " + strings.Join(removes, ", ")
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(d.table),
		Key:                       keyAV(sessionKey(out.ID)),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String(strings.Join(conds, " AND ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}}, nil
}

// questionWrite is the write of one question: a new one where its id is
// free, or its votes (while open) and status.
func (d *DB) questionWrite(id domain.SessionID, w store.QuestionWrite) (types.TransactWriteItem, error) {
	if w.New {
		q := w.Question
		q.Votes = 0
		av, err := attributevalue.MarshalMap(toQuestionItem(id, q))
		if err != nil {
			return types.TransactWriteItem{}, err
		}
		// A question is asked with no votes; votes cast with it go by ADD.
		if w.Question.Votes != 0 {
			av[attrVotes] = num(w.Question.Votes)
		}
		return types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(d.table), Item: av, ConditionExpression: aws.String("attribute_not_exists(PK)"),
		}}, nil
	}
	names := map[string]string{"#st": attrQStatus}
	values := map[string]types.AttributeValue{}
	conds := []string{"attribute_exists(PK)"}
	var parts []string
	if w.Status {
		values[":st"] = str(string(w.Question.Status))
		parts = append(parts, "SET #st = :st")
	}
	if w.Votes != 0 {
		names["#v"] = attrVotes
		values[":dv"] = num(w.Votes)
		parts = append(parts, "ADD #v :dv")
		if w.Votes > 0 {
			values[":open"] = str(string(domain.QuestionOpen))
			conds = append(conds, "#st = :open")
		}
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(d.table),
		Key:                       keyAV(questionKey(id, w.Question.ID)),
		UpdateExpression:          aws.String(strings.Join(parts, " ")),
		ConditionExpression:       aws.String(strings.Join(conds, " AND ")),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}}, nil
}

// writeItems writes items: one item as a plain conditional write (half
// the capacity of a transaction), several as one transaction. A failed
// condition is errStale.
func (d *DB) writeItems(ctx context.Context, items []types.TransactWriteItem) error {
	switch len(items) {
	case 0:
		return nil
	case 1:
		err := d.writeOne(ctx, items[0])
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return errStale
		}
		return err
	}
	_, err := d.transact(ctx, items)
	if errors.Is(err, errCanceled) {
		return errStale
	}
	return err
}

// writeOne makes one item of a transaction a write of its own.
func (d *DB) writeOne(ctx context.Context, it types.TransactWriteItem) error {
	var err error
	switch {
	case it.Put != nil:
		_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: it.Put.TableName, Item: it.Put.Item, ConditionExpression: it.Put.ConditionExpression,
			ExpressionAttributeNames: it.Put.ExpressionAttributeNames, ExpressionAttributeValues: it.Put.ExpressionAttributeValues,
		})
	case it.Update != nil:
		_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: it.Update.TableName, Key: it.Update.Key, UpdateExpression: it.Update.UpdateExpression,
			ConditionExpression:      it.Update.ConditionExpression,
			ExpressionAttributeNames: it.Update.ExpressionAttributeNames, ExpressionAttributeValues: it.Update.ExpressionAttributeValues,
		})
	case it.Delete != nil:
		_, err = d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: it.Delete.TableName, Key: it.Delete.Key, ConditionExpression: it.Delete.ConditionExpression,
			ExpressionAttributeNames: it.Delete.ExpressionAttributeNames, ExpressionAttributeValues: it.Delete.ExpressionAttributeValues,
		})
	}
	return err
}

// allocSeq adds n to a session's counter of hands and questions and
// returns its new value: the numbers (value-n, value] are the caller's.
func (d *DB) allocSeq(ctx context.Context, id domain.SessionID, n int64) (int64, error) {
	res, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       keyAV(sessionKey(id)),
		UpdateExpression:          aws.String("ADD #seq :n"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#seq": attrSeq},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num64(n)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return 0, store.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("allocate %d numbers: %w", n, err)
	}
	v, ok := res.Attributes[attrSeq].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("allocate %d numbers: no counter returned", n)
	}
	top, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("allocate %d numbers: %w", n, err)
	}
	return top, nil
}

// moveDue files the members read but not written at their due time, if
// it moved (it can follow from the session item: a seat, the
// presenter, a session that ended). Each is a conditional write on the
// member's version; one that fails is left for the next full read.
func (d *DB) moveDue(ctx context.Context, snap snapshot, out *domain.Session, written map[string]bool) {
	for _, m := range out.Live.Members {
		k := memberKey(out.ID, m.UserID)
		if written[k.SK] {
			continue
		}
		want := ""
		ik := indexKey{}
		if due := out.MemberDue(m); !due.IsZero() {
			ik = dueIndexKey(due, out.ID, k.SK)
			want = ik.SK
		}
		if snap.due[k.SK] == want {
			continue
		}
		in := &dynamodb.UpdateItemInput{
			TableName:                 aws.String(d.table),
			Key:                       keyAV(k),
			ConditionExpression:       aws.String("#ver = :ver"),
			ExpressionAttributeNames:  map[string]string{"#ver": attrVer, "#gpk": attrGSI1PK, "#gsk": attrGSI1SK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":ver": num64(m.Version)},
		}
		if want == "" {
			in.UpdateExpression = aws.String("REMOVE #gpk, #gsk")
		} else {
			in.UpdateExpression = aws.String("SET #gpk = :gpk, #gsk = :gsk")
			in.ExpressionAttributeValues[":gpk"], in.ExpressionAttributeValues[":gsk"] = str(ik.PK), str(ik.SK)
		}
		_, _ = d.client.UpdateItem(ctx, in) // a failure leaves the old time: a tick that changes nothing
	}
}

func num64(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// pageSize is the Limit of one page of a query that wants limit items:
// at least 1, at most what Limit takes.
func pageSize(limit int) *int32 {
	return aws.Int32(int32(min(max(limit, 1), math.MaxInt32)))
}

// DueSessions returns up to limit sessions with an item due at or before
// now, earliest first (then by id), from the shards of the due list in
// GSI1, merged. The index is eventually consistent: an item may show up a
// moment late, or at its previous due time, which the scheduler
// tolerates (see keys.go). Sessions that are over are skipped (their
// session item is read to know), should the index lag behind their end;
// the entries of a session found over are taken out of the list on the
// way (nothing is ever due in it again), so that they cannot crowd out
// the sessions that are due.
func (d *DB) DueSessions(ctx context.Context, now time.Time, limit int) ([]domain.SessionID, error) {
	out := []domain.SessionID{}
	if limit <= 0 {
		return out, nil
	}
	type entry struct {
		sk string
		id domain.SessionID
	}
	var all []entry
	seenKeys := map[domain.SessionID][]key{}
	for _, pk := range shards(gsiDue, dueShards) {
		// A shard gives at most limit sessions, each at its earliest
		// entry; the members of one session may take many entries, so a
		// shard is read until it names limit sessions or maxDueScan
		// entries.
		distinct, scanned := map[domain.SessionID]bool{}, 0
		err := d.queryIndex(ctx, pk, indexUpTo(now), limit, func(item map[string]types.AttributeValue) (bool, error) {
			var k struct {
				PK     string `dynamodbav:"PK"`
				SK     string `dynamodbav:"SK"`
				GSI1SK string `dynamodbav:"GSI1SK"`
			}
			if err := attributevalue.UnmarshalMap(item, &k); err != nil {
				return false, err
			}
			scanned++
			if id, ok := sessionOf(k.PK); ok {
				seenKeys[id] = append(seenKeys[id], key{k.PK, k.SK})
				if !distinct[id] {
					distinct[id] = true
					all = append(all, entry{k.GSI1SK, id})
				}
			}
			return len(distinct) < limit && scanned < maxDueScan, nil
		})
		if err != nil {
			return nil, fmt.Errorf("dynamostore: due sessions at %s: %w", now.UTC().Format(time.RFC3339), err)
		}
	}
	slices.SortFunc(all, func(a, b entry) int { return strings.Compare(a.sk, b.sk) })
	seen := map[domain.SessionID]bool{}
	for _, e := range all {
		if len(out) >= limit {
			break
		}
		if seen[e.id] {
			continue
		}
		seen[e.id] = true
		s, ok, err := d.session(ctx, e.id)
		if err != nil {
			return nil, fmt.Errorf("dynamostore: due sessions: %w", err)
		}
		switch {
		case ok && !s.Status.Over():
			out = append(out, e.id)
		case ok:
			d.unfile(ctx, seenKeys[e.id])
		}
	}
	return out, nil
}

// unfile takes items out of the due list, best effort: each that is
// missed is met again by the next sweep.
func (d *DB) unfile(ctx context.Context, keys []key) {
	for _, k := range keys {
		_, _ = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                aws.String(d.table),
			Key:                      keyAV(k),
			UpdateExpression:         aws.String("REMOVE #gpk, #gsk"),
			ConditionExpression:      aws.String("attribute_exists(PK)"),
			ExpressionAttributeNames: map[string]string{"#gpk": attrGSI1PK, "#gsk": attrGSI1SK},
		})
	}
}

// queryIndex calls fn, in GSI1SK order, for each item of the GSI1
// partition pk whose GSI1SK is below upTo, until fn returns false or the
// items run out. Pages ask for limit items.
func (d *DB) queryIndex(ctx context.Context, pk, upTo string, limit int, fn func(map[string]types.AttributeValue) (bool, error)) error {
	p := dynamodb.NewQueryPaginator(d.client, &dynamodb.QueryInput{
		TableName:              aws.String(d.table),
		IndexName:              aws.String(indexGSI1),
		KeyConditionExpression: aws.String("#pk = :pk AND #sk < :upTo"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrGSI1PK, "#sk": attrGSI1SK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":   str(pk),
			":upTo": str(upTo),
		},
		Limit: pageSize(limit),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, item := range page.Items {
			more, err := fn(item)
			if err != nil || !more {
				return err
			}
		}
	}
	return nil
}
